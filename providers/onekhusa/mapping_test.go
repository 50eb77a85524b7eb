package onekhusa

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kassa-pay/kassa/providers"
)

func TestMapStatus(t *testing.T) {
	for code, want := range map[string]providers.Status{
		"S": providers.StatusPaid, "s": providers.StatusPaid, " S ": providers.StatusPaid,
		"F": providers.StatusDeclined, "E": providers.StatusDeclined, "X": providers.StatusDeclined,
		"C": providers.StatusCancelled,
		"R": providers.StatusRefunded,
		"P": providers.StatusPending, "D": providers.StatusPending, "T": providers.StatusPending,
		"": providers.StatusPending, "Z": providers.StatusPending, "SUCCESS": providers.StatusPending,
	} {
		if got := MapStatus(code); got != want {
			t.Errorf("MapStatus(%q) = %q, want %q", code, got, want)
		}
	}
}

func TestKindForError(t *testing.T) {
	for _, c := range []struct {
		status int
		code   string
		want   error
	}{
		{400, "E900", providers.ErrInvalid},
		{400, "E307", providers.ErrNotFound},
		{200, "E306", providers.ErrUnavailable},
		{401, "", providers.ErrAuth},
		{403, "E403", providers.ErrAuth},
		{409, "E409", providers.ErrConflict},
		{429, "", providers.ErrRateLimited},
		{402, "", providers.ErrDeclined},
		{424, "", providers.ErrUnavailable},
		{500, "", providers.ErrUnavailable},
		{503, "E999", providers.ErrUnavailable},
		{404, "", providers.ErrNotFound},
		{422, "", providers.ErrInvalid},
		{418, "E900", providers.ErrInvalid},
		{302, "", providers.ErrUnavailable},
	} {
		if got := KindForError(c.status, c.code); got != c.want {
			t.Errorf("KindForError(%d, %q) = %v, want %v", c.status, c.code, got, c.want)
		}
	}
}

func TestAmounts(t *testing.T) {
	for minor, want := range map[int64]Decimal{1: "0.01", 1234: "12.34", 1234507: "12345.07", 100: "1.00", 837500000: "8375000.00"} {
		got, err := ToDecimal(minor, "MWK")
		if err != nil || got != want {
			t.Errorf("ToDecimal(%d) = %q, %v; want %q", minor, got, err, want)
		}
		back, err := ToMinor(got, "MWK")
		if err != nil || back != minor {
			t.Errorf("ToMinor(%q) = %d, %v", got, back, err)
		}
	}
	for in, want := range map[string]int64{`12.34`: 1234, `"12.34"`: 1234, `12345.07`: 1234507, `100`: 10000, `100.0`: 10000, `"8375000.00"`: 837500000, `12.340`: 1234} {
		var d Decimal
		if err := json.Unmarshal([]byte(in), &d); err != nil {
			t.Errorf("unmarshal %s: %v", in, err)
			continue
		}
		if got, err := ToMinor(d, "MWK"); err != nil || got != want {
			t.Errorf("%s = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{`12.345`, `1e3`, `"abc"`, `"12,34"`, `""`, `"+1"`, `" 1"`, `"1 "`} {
		var d Decimal
		if json.Unmarshal([]byte(in), &d) == nil {
			if _, err := ToMinor(d, "MWK"); err == nil {
				t.Errorf("%s parsed as an amount", in)
			}
		}
	}
	b, err := json.Marshal(CheckoutPayment{Amount: "12345.07"})
	if err != nil || !strings.Contains(string(b), `"amount":12345.07`) {
		t.Errorf("amount on the wire: %s, %v", b, err)
	}
	if _, err := json.Marshal(CheckoutPayment{Amount: "1e3"}); err == nil {
		t.Error("marshalled a non-decimal amount")
	}
}

func TestIdempotencyKey(t *testing.T) {
	for _, ref := range []string{"att1733990000000000001", "att_with_underscores", "a", "", strings.Repeat("x", 200), "日本語", "att-123456789"} {
		k := IdempotencyKey(12345678, ref)
		if !ValidIdempotencyKey(k) {
			t.Errorf("key %q for %q breaks the documented rules", k, ref)
		}
		if k != IdempotencyKey(12345678, ref) {
			t.Errorf("key for %q is not stable", ref)
		}
	}
	if k := IdempotencyKey(12345678, "att1733990000000000001"); k != "12345678-att1733990000000000001" {
		t.Errorf("a fitting reference is used as is: %q", k)
	}
	if IdempotencyKey(12345678, "att_1") == IdempotencyKey(12345678, "att-1") {
		t.Error("different references share a key")
	}
	if IdempotencyKey(12345678, "x") == IdempotencyKey(87654321, "x") {
		t.Error("different merchants share a key")
	}
}

func TestNormalizeMSISDN(t *testing.T) {
	for in, want := range map[string][2]string{
		"0999123456":       {"0999123456", NetworkAirtel},
		"0981234567":       {"0981234567", NetworkAirtel},
		"0888123456":       {"0888123456", NetworkMpamba},
		"0891234567":       {"0891234567", NetworkMpamba},
		"+265999123456":    {"0999123456", NetworkAirtel},
		"265888123456":     {"0888123456", NetworkMpamba},
		"+265 999 123 456": {"0999123456", NetworkAirtel},
		" 0888-123-456 ":   {"0888123456", NetworkMpamba},
	} {
		local, network, err := NormalizeMSISDN(in)
		if err != nil || local != want[0] || network != want[1] {
			t.Errorf("NormalizeMSISDN(%q) = %q, %q, %v; want %v", in, local, network, err, want)
		}
		if !ValidMSISDN(in) {
			t.Errorf("ValidMSISDN(%q) = false", in)
		}
	}
	for _, in := range []string{"", "0999", "099912345678", "0199123456", "0111234567", "+254712345678", "265999123",
		"2650999123456", "+2650999123456", "00265999123456", "999123456", "0999l23456", "+265+99912345", "0777123456", "+265999123456789"} {
		if ValidMSISDN(in) {
			t.Errorf("ValidMSISDN(%q) = true", in)
		}
	}
}

func TestTransactionShapes(t *testing.T) {
	flat := `{"sourceAccountNumber":"0999000000","sourceReferenceNumber":"att1","amountSent":12345.07,"transactionStatusCode":"S",
		"transactionReferenceNumber":"B250713MGRTW","sourceCurrencyCode":"MWK","amountReceived":12160.00,"bridgeReferenceNumber":"BR1",
		"responseCode":"S100","responseMessage":"ok"}`
	nested := `{"beneficiary":{"accountNumber":"12345678","amountReceived":12160.00,"currencyCode":"MWK"},
		"source":{"accountNumber":"0999000000","amountSent":"12345.07","currencyCode":"MWK","sourceReferenceNumber":"att1","connectorId":550044},
		"transaction":{"transactionReferenceNumber":"B250713MGRTW","transactionStatusCode":"S","bridgeReferenceNumber":"BR1","responseCode":"S100","responseMessage":"ok"}}`
	for name, body := range map[string]string{"flat": flat, "nested": nested} {
		var tx Transaction
		if err := json.Unmarshal([]byte(body), &tx); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		r, err := resultOf(tx, providers.Lookup{ProviderRef: "B250713MGRTW", Reference: "att1"})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want := providers.Result{ProviderRef: "B250713MGRTW", Status: providers.StatusPaid, Amount: 1234507, Currency: "MWK", PaymentID: "BR1"}
		if r != want {
			t.Errorf("%s: %+v, want %+v", name, r, want)
		}
	}
	var tx Transaction
	json.Unmarshal([]byte(flat), &tx)
	if _, err := resultOf(tx, providers.Lookup{ProviderRef: "B250713MGRTW", Reference: "someone-else"}); !errors.Is(err, providers.ErrConflict) {
		t.Errorf("another order's transaction: %v", err)
	}
	if _, err := resultOf(tx, providers.Lookup{ProviderRef: "B250713XXXXX"}); err == nil {
		t.Error("an answer about another transaction was accepted")
	}
	tx.AmountSent = "12.345"
	if _, err := resultOf(tx, providers.Lookup{ProviderRef: "B250713MGRTW"}); !errors.Is(err, providers.ErrUnavailable) {
		t.Errorf("unreadable amount: %v", err)
	}
}

func TestCheckoutSession(t *testing.T) {
	const tmpl = "https://checkout.example/pay?ptid={paymentTransactionId}"
	for name, c := range map[string]struct {
		resp    CheckoutResponse
		ref, pu string
	}{
		"both": {CheckoutResponse{TransactionReferenceNumber: "B250713MGRTW", PaymentTransactionID: "p1", CheckoutURL: "https://x.test/pay/p1"},
			"B250713MGRTW", "https://x.test/pay/p1"},
		"url only":  {CheckoutResponse{TransactionReferenceNumber: "B250713MGRTW", CheckoutURL: "https://x.test/c"}, "B250713MGRTW", "https://x.test/c"},
		"ptid only": {CheckoutResponse{PaymentTransactionID: "a b&c"}, "a b&c", "https://checkout.example/pay?ptid=a+b%26c"},
	} {
		s, err := checkoutSession(c.resp, tmpl)
		if err != nil || s.ProviderRef != c.ref || s.PayURL != c.pu || s.Status != providers.StatusPending {
			t.Errorf("%s: %+v, %v", name, s, err)
		}
	}
	for _, resp := range []CheckoutResponse{{}, {CheckoutURL: "https://x.test/c"}, {TransactionReferenceNumber: "B250713MGRTW"},
		{TransactionReferenceNumber: "B250713MGRTW", CheckoutURL: "/relative"}} {
		if _, err := checkoutSession(resp, tmpl); !errors.Is(err, providers.ErrUnavailable) {
			t.Errorf("%+v: %v, want ErrUnavailable", resp, err)
		}
	}
}

func TestParseReturn(t *testing.T) {
	p := New(Config{})
	for q, want := range map[string]providers.ReturnHint{
		"transactionReferenceNumber=B250713MGRTW&transactionStatusCode=S&k=1": {ProviderRef: "B250713MGRTW", Status: providers.StatusPaid},
		"transactionReferenceNumber=B250713MGRTW&transactionStatusCode=C":     {ProviderRef: "B250713MGRTW", Status: providers.StatusCancelled},
		"transactionStatusCode=F":                                            {Status: providers.StatusDeclined},
		"transactionReferenceNumber=short":                                   {},
		"transactionReferenceNumber=B250713MGRT%3C&transactionStatusCode=SS": {},
		"": {},
	} {
		v, _ := url.ParseQuery(q)
		if got := p.ParseReturn(v); got != want {
			t.Errorf("ParseReturn(%q) = %+v, want %+v", q, got, want)
		}
	}
}

func TestTokenExpiry(t *testing.T) {
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	at := func(d time.Duration) string { return now.Add(d).Format("2006-01-02T15:04:05.000Z") }
	for _, c := range []struct {
		resp AccessTokenResponse
		want time.Duration // after now; 0 means no expiry
	}{
		{AccessTokenResponse{ExpiresOn: at(5 * time.Minute), ExpiryInMinutes: 5}, 4*time.Minute + 30*time.Second},
		{AccessTokenResponse{ExpiresOn: at(10 * time.Second)}, 8 * time.Second},
		{AccessTokenResponse{ExpiryInMinutes: 5}, 4*time.Minute + 30*time.Second},
		{AccessTokenResponse{ExpiresOn: at(-time.Hour), ExpiryInMinutes: 5}, 4*time.Minute + 30*time.Second}, // our clock is ahead
		{AccessTokenResponse{ExpiresOn: "tomorrow"}, 0},
		{AccessTokenResponse{}, 0},
	} {
		got := tokenExpiry(now, c.resp)
		if (c.want == 0 && !got.IsZero()) || (c.want != 0 && !got.Equal(now.Add(c.want))) {
			t.Errorf("tokenExpiry(%+v) = %v, want now+%v", c.resp, got, c.want)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Unix(1735689600, 0)
	for _, c := range []struct {
		h    http.Header
		want time.Duration
	}{
		{http.Header{"X-Ratelimit-Reset": {"1735689605"}}, 5 * time.Second},
		{http.Header{"X-Ratelimit-Reset": {"1735689500"}}, time.Second},
		{http.Header{"Retry-After": {"7"}, "X-Ratelimit-Reset": {"1735689605"}}, 7 * time.Second},
		{http.Header{}, time.Second},
		{http.Header{"X-Ratelimit-Reset": {"99999999999"}}, time.Hour},
	} {
		if got := retryAfter(c.h, now); got != c.want {
			t.Errorf("retryAfter(%v) = %v, want %v", c.h, got, c.want)
		}
	}
}

func FuzzParseReturn(f *testing.F) {
	for _, s := range []string{"", "transactionReferenceNumber=B250713MGRTW&transactionStatusCode=S", "%zz", "transactionStatusCode=%00", "a=b&a=c"} {
		f.Add(s)
	}
	p := New(Config{})
	f.Fuzz(func(t *testing.T, q string) {
		v, _ := url.ParseQuery(q)
		h := p.ParseReturn(v)
		if h.ProviderRef != "" && (len(h.ProviderRef) != 12 || !isAlnum(h.ProviderRef)) {
			t.Fatalf("hint names %q", h.ProviderRef)
		}
	})
}

func FuzzAmount(f *testing.F) {
	for _, s := range []string{`12.34`, `"12.34"`, `1e3`, `-1`, `null`, `"`, `12345678901234567890`, `0.1`, `"7.070"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var d Decimal
		if json.Unmarshal([]byte(in), &d) != nil {
			return
		}
		minor, err := ToMinor(d, "MWK")
		if err != nil {
			return
		}
		back, err := ToDecimal(minor, "MWK")
		if err != nil {
			t.Fatal(err)
		}
		again, err := ToMinor(back, "MWK")
		if err != nil || again != minor {
			t.Fatalf("%s -> %d -> %s -> %d, %v", in, minor, back, again, err)
		}
	})
}

func FuzzParseCallback(f *testing.F) {
	for _, s := range []string{
		`{"transactionReferenceNumber":"B250713MGRTW","sourceReferenceNumber":"att1"}`,
		`{"transaction":{"transactionReferenceNumber":"B250713MGRTW"},"source":{"sourceReferenceNumber":"att1"}}`,
		`{"TransactionReferenceNumber":"B250713MGRTW","ResponseCode":"S100"}`,
		`[]`, `null`, `{`, ``, `{"source":null}`, `{"amountSent":{}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		h, err := ParseCallback(body)
		if err != nil {
			return
		}
		if h.ProviderRef == "" && h.Reference == "" {
			t.Fatal("accepted a body naming nothing")
		}
		if h.ProviderRef != "" && (len(h.ProviderRef) != 12 || !isAlnum(h.ProviderRef)) {
			t.Fatalf("hint names %q", h.ProviderRef)
		}
	})
}

func FuzzNormalizeMSISDN(f *testing.F) {
	for _, s := range []string{"0999123456", "+265888123456", "265999123456", "", "+", "0", "+265 99-9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		local, network, err := NormalizeMSISDN(in)
		if err != nil {
			return
		}
		if len(local) != 10 || local[0] != '0' || !allDigits(local) || (network != NetworkAirtel && network != NetworkMpamba) {
			t.Fatalf("%q -> %q, %q", in, local, network)
		}
		if again, n2, err := NormalizeMSISDN(local); err != nil || again != local || n2 != network {
			t.Fatalf("not idempotent: %q -> %q -> %q", in, local, again)
		}
	})
}
