package kspay

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/kassa-pay/kassa/providers"
	"github.com/kassa-pay/kassa/providers/currency"
)

func slogJSON(w io.Writer) *slog.Logger { return slog.New(slog.NewJSONHandler(w, nil)) }

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

func TestMapStatus(t *testing.T) {
	for _, tc := range []struct {
		status string
		paid   bool
		want   providers.Status
	}{
		{"PENDING", false, providers.StatusPending},
		{"SUCCESS", true, providers.StatusPaid},
		{"success", true, providers.StatusPaid},
		{"PENDING", true, providers.StatusPaid},     // isPaid is the success bit
		{"COMPLETED", true, providers.StatusPaid},   // an unknown word with isPaid
		{"SUCCESS", false, providers.StatusPending}, // not settled: ask again
		{"FAILED", false, providers.StatusDeclined},
		{"DECLINED", false, providers.StatusDeclined},
		{"CANCELLED", false, providers.StatusCancelled},
		{"CANCELED", false, providers.StatusCancelled},
		{"EXPIRED", false, providers.StatusExpired},
		{"FAILED", true, providers.StatusPending}, // contradiction: never final
		{"", false, providers.StatusPending},
		{"REFUND_INITIATED", false, providers.StatusPending},
		{"CREATED", false, providers.StatusPending},
	} {
		if got := mapStatus(tc.status, tc.paid); got != tc.want {
			t.Errorf("mapStatus(%q, %v) = %q, want %q", tc.status, tc.paid, got, tc.want)
		}
	}
}

func TestKindFor(t *testing.T) {
	for _, tc := range []struct {
		code, status int
		want         error
	}{
		{9000, 400, providers.ErrAuth},
		{9008, 401, providers.ErrAuth},
		{9009, 401, providers.ErrAuth},
		{11001, 404, providers.ErrAuth}, // unknown access key, not an unknown order
		{11002, 404, providers.ErrAuth},
		{11004, 400, providers.ErrAuth},
		{11011, 404, providers.ErrAuth},
		{11005, 429, providers.ErrRateLimited},
		{11005, 400, providers.ErrInvalid}, // signature expired
		{11006, 400, providers.ErrInvalid},
		{13007, 403, providers.ErrAuth}, // origin denied
		{13007, 400, providers.ErrInvalid},
		{24, 404, providers.ErrNotFound},
		{26, 500, providers.ErrUnavailable},
		{27, 400, providers.ErrUnavailable},
		{-19, 400, providers.ErrInvalid},
		{-17, 400, providers.ErrInvalid},
		{-9, 400, providers.ErrInvalid},
		{12001, 404, providers.ErrInvalid},
		{-34, 401, providers.ErrInvalid},
		{0, 502, providers.ErrUnavailable},
		{0, 404, providers.ErrNotFound},
		{0, 401, providers.ErrAuth},
		{0, 429, providers.ErrRateLimited},
		{77777, 400, providers.ErrInvalid},
		{77777, 503, providers.ErrUnavailable},
	} {
		if got := kindFor(tc.code, tc.status); got != tc.want {
			t.Errorf("kindFor(%d, %d) = %v, want %v", tc.code, tc.status, got, tc.want)
		}
	}
}

func TestParseReturn(t *testing.T) {
	for _, tc := range []struct {
		query string
		want  providers.ReturnHint
	}{
		{"payment_status=success&kspay_id=tx_UOVynlQ0j&provider_payment_id=pay_1", providers.ReturnHint{ProviderRef: "tx_UOVynlQ0j", Status: providers.StatusPaid}},
		{"outcome=return&payment_status=failed&kspay_id=tx_UOVynlQ0j", providers.ReturnHint{ProviderRef: "tx_UOVynlQ0j", Status: providers.StatusDeclined}},
		{"payment_status=cancelled&kspay_id=tx_a", providers.ReturnHint{ProviderRef: "tx_a", Status: providers.StatusCancelled}},
		{"payment_status=SUCCESS", providers.ReturnHint{Status: providers.StatusPaid}},
		{"payment_status=maybe&kspay_id=", providers.ReturnHint{}},
		{"kspay_id=%3Cscript%3E", providers.ReturnHint{}},
		{"kspay_id=" + strings.Repeat("a", 65), providers.ReturnHint{}},
		{"", providers.ReturnHint{}},
	} {
		q, _ := url.ParseQuery(tc.query)
		if got := parseReturn(q); got != tc.want {
			t.Errorf("parseReturn(%q) = %+v, want %+v", tc.query, got, tc.want)
		}
	}
}

func TestAmounts(t *testing.T) {
	for _, tc := range []struct {
		minor int64
		code  string
		wire  string
	}{
		{1234, "INR", "12.34"},
		{1234507, "USD", "12345.07"},
		{1, "USD", "0.01"},
		{1234567, "JPY", "1234567"},
		{1234567, "KWD", "1234.567"},
		{1500, "KWD", "1.500"},
	} {
		got, err := wireAmount(tc.minor, tc.code)
		if err != nil || string(got) != tc.wire {
			t.Errorf("wireAmount(%d, %s) = %q, %v; want %q", tc.minor, tc.code, got, err, tc.wire)
		}
		back, err := parseAmount(Amount(got), tc.code)
		if err != nil || back != tc.minor {
			t.Errorf("parseAmount(%q, %s) = %d, %v; want %d", got, tc.code, back, err, tc.minor)
		}
	}
	if _, err := wireAmount(100, "XXX"); err == nil {
		t.Error("wireAmount accepted an unknown currency")
	}
	// As KS Pay sends them: strings with JavaScript's trailing zeros dropped, or numbers.
	for _, tc := range []struct {
		json string
		code string
		want int64
		ok   bool
	}{
		{`"11"`, "USD", 1100, true},
		{`"12.3"`, "INR", 1230, true},
		{`345.67`, "INR", 34567, true},
		{`"12.340"`, "INR", 1234, true},
		{`"1234.567"`, "KWD", 1234567, true},
		{`1234567`, "JPY", 1234567, true},
		{`"12.345"`, "INR", 0, false},
		{`"1.5"`, "JPY", 0, false},
		{`1e3`, "INR", 0, false},
		{`""`, "INR", 0, false},
		{`null`, "INR", 0, false},
		{`"12,34"`, "INR", 0, false},
		{`" 12.34"`, "INR", 1234, true},
		{`"12.34"`, "", 0, false},
	} {
		var a Amount
		err := json.Unmarshal([]byte(tc.json), &a)
		var got int64
		if err == nil {
			got, err = parseAmount(a, tc.code)
		}
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("amount %s %s = %d, %v; want %d ok=%v", tc.json, tc.code, got, err, tc.want, tc.ok)
		}
	}
	var a Amount
	for _, bad := range []string{`true`, `{}`, `[1]`, `"\x"`} {
		if err := json.Unmarshal([]byte(bad), &a); err == nil {
			t.Errorf("Amount accepted %s", bad)
		}
	}
}

func TestParseAPIError(t *testing.T) {
	for _, tc := range []struct {
		body    string
		code    int
		hasCode bool
		msg     string
	}{
		{`{"status":401,"message":"Token has expired.","code":9009}`, 9009, true, "Token has expired."},
		{`{"status":400,"message":"Number should have at most the allowed number of decimal places ie - 2","code":-19}`, -19, true, "Number should have at most the allowed number of decimal places ie - 2"},
		{`{"statusCode":400,"message":["amount must be a number","x"],"code":"25"}`, 25, true, "amount must be a number; x"},
		{`<html>Bad gateway</html>`, 0, false, "<html>Bad gateway</html>"},
		{`{"message":"` + strings.Repeat("é", 300) + `"}`, 0, false, strings.Repeat("é", 100) + "..."},
	} {
		got := parseAPIError([]byte(tc.body))
		if got.Code != tc.code || got.HasCode != tc.hasCode || got.Message != tc.msg {
			t.Errorf("parseAPIError(%.40s) = %+v, want code %d (%v) %q", tc.body, got, tc.code, tc.hasCode, tc.msg)
		}
	}
}

func TestJWTExpiry(t *testing.T) {
	enc := base64.RawURLEncoding.EncodeToString
	tok := enc([]byte(`{"alg":"HS256"}`)) + "." + enc([]byte(`{"exp":1700000000}`)) + ".sig"
	if got, ok := jwtExpiry(tok); !ok || !got.Equal(time.Unix(1700000000, 0)) {
		t.Fatalf("jwtExpiry = %v, %v", got, ok)
	}
	for _, bad := range []string{"opaque-token", "a.b.c", "a." + enc([]byte(`{"exp":"soon"}`)) + ".c", "a." + enc([]byte(`{}`)) + ".c"} {
		if _, ok := jwtExpiry(bad); ok {
			t.Errorf("jwtExpiry(%q) claimed an expiry", bad)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	if got := retryAfter("30"); got != 30*time.Second {
		t.Errorf("retryAfter(30) = %v", got)
	}
	if got := retryAfter(time.Now().Add(time.Hour).UTC().Format(httpTimeFormat)); got < 59*time.Minute {
		t.Errorf("retryAfter(date) = %v", got)
	}
	for _, bad := range []string{"", "-1", "soon"} {
		if got := retryAfter(bad); got != 0 {
			t.Errorf("retryAfter(%q) = %v", bad, got)
		}
	}
}

const httpTimeFormat = "Mon, 02 Jan 2006 15:04:05 GMT"

func TestSecretFormatting(t *testing.T) {
	s := Secret("sk_live_very_secret")
	for _, got := range []string{s.String(), s.GoString()} {
		if strings.Contains(got, "very_secret") {
			t.Errorf("leaked: %s", got)
		}
	}
	b, _ := json.Marshal(struct{ K Secret }{s})
	if strings.Contains(string(b), "very_secret") {
		t.Errorf("JSON leaked: %s", b)
	}
	var back struct{ K Secret }
	json.Unmarshal([]byte(`{"K":"tok"}`), &back)
	if back.K.Reveal() != "tok" {
		t.Errorf("decoding a Secret gave %q", back.K.Reveal())
	}
	if s.Reveal() != "sk_live_very_secret" {
		t.Error("Reveal changed the value")
	}
}

func TestStaleToken(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&providers.Error{Code: "9009", HTTPStatus: 401}, true},
		{&providers.Error{Code: "9000", HTTPStatus: 400}, true},
		{&providers.Error{HTTPStatus: 401}, true},
		{&providers.Error{Code: "-34", HTTPStatus: 401}, false},
		{&providers.Error{Code: "24", HTTPStatus: 404}, false},
		{errors.New("x"), false},
		{nil, false},
	} {
		if got := staleToken(tc.err); got != tc.want {
			t.Errorf("staleToken(%v) = %v", tc.err, got)
		}
	}
}

func FuzzParseReturn(f *testing.F) {
	for _, s := range []string{
		"payment_status=success&kspay_id=tx_UOVynlQ0j&provider_payment_id=pay_P4sEpHDzofjQwV",
		"payment_status=failed&kspay_id=tx_UOVynlQ0j",
		"outcome=return&payment_status=cancelled&kspay_id=tx_x",
		"kspay_id=%00%ff&payment_status=%zz",
		"payment_status=success&payment_status=failed&kspay_id=a&kspay_id=b",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, _ := url.ParseQuery(raw)
		h := parseReturn(q)
		if h.ProviderRef != "" && !validID(h.ProviderRef) {
			t.Fatalf("hint names an invalid id %q", h.ProviderRef)
		}
		switch h.Status {
		case "", providers.StatusPaid, providers.StatusDeclined, providers.StatusCancelled, providers.StatusExpired:
		default:
			t.Fatalf("hint status %q", h.Status)
		}
	})
}

func FuzzAmount(f *testing.F) {
	for _, s := range []struct{ json, code string }{
		{`"11"`, "USD"}, {`345.67`, "INR"}, {`"1234.567"`, "KWD"}, {`1234567`, "JPY"},
		{`"12.340"`, "INR"}, {`1e3`, "INR"}, {`"-0.01"`, "USD"}, {`"99999999999999999999"`, "USD"},
		{`null`, "INR"}, {`"1.5"`, "JPY"},
	} {
		f.Add(s.json, s.code)
	}
	f.Fuzz(func(t *testing.T, raw, code string) {
		var a Amount
		if json.Unmarshal([]byte(raw), &a) != nil {
			return
		}
		n, err := parseAmount(a, code)
		if err != nil {
			return
		}
		// Whatever parses round-trips exactly through the wire format.
		w, err := wireAmount(n, code)
		if err != nil {
			t.Fatalf("parsed %q as %d %s, but cannot format it: %v", raw, n, code, err)
		}
		back, err := parseAmount(Amount(w), code)
		if err != nil || back != n {
			t.Fatalf("%q -> %d -> %q -> %d, %v", raw, n, w, back, err)
		}
		if _, ok := currency.Exponent(code); !ok {
			t.Fatalf("parsed an amount in unknown currency %q", code)
		}
	})
}

func FuzzParseAPIError(f *testing.F) {
	for _, s := range []string{
		`{"status":401,"message":"Token has expired.","code":9009}`,
		`{"status":429,"message":"Too many requests made in a short period","code":11005}`,
		`{"message":["a","b"],"code":"-19"}`,
		`{"code":1e400}`, `not json`, `{"message":"\ud800"}`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		e := parseAPIError(body)
		if len(e.Message) > 210 || !utf8.ValidString(e.Message) {
			t.Fatalf("message %q: too long or not UTF-8", e.Message)
		}
		if !e.HasCode && e.Code != 0 {
			t.Fatalf("code %d without HasCode", e.Code)
		}
		_ = responseError("op", 400, nil, body).Error()
	})
}
