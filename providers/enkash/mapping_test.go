package enkash

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kassa-pay/kassa/providers"
)

func TestOrderStatus(t *testing.T) {
	tx := func(id, status string) Transaction { return Transaction{TransactionID: id, Status: status} }
	for _, tc := range []struct {
		name    string
		order   Order
		want    providers.Status
		payment string
	}{
		{"created", Order{Status: OrderCreated}, providers.StatusPending, ""},
		{"checkout rendered", Order{Status: OrderCheckoutRendered}, providers.StatusPending, ""},
		{"confirmation pending", Order{Status: OrderPaymentConfirmationPending, Transactions: []Transaction{tx("T1", PaymentPendingWithBank)}}, providers.StatusPending, "T1"},
		{"unknown word", Order{Status: "SETTLED_MAYBE"}, providers.StatusPending, ""},
		{"empty", Order{}, providers.StatusPending, ""},
		{"lower case is not a status", Order{Status: "paid"}, providers.StatusPending, ""},
		{"paid", Order{Status: OrderPaid, Transactions: []Transaction{tx("T1", PaymentFailed), tx("T2", PaymentSuccess)}}, providers.StatusPaid, "T2"},
		{"paid without transactions", Order{Status: OrderPaid}, providers.StatusPaid, ""},
		{"paid, later failed retry ignored", Order{Status: OrderPaid, Transactions: []Transaction{tx("T1", PaymentSuccess), tx("T2", PaymentFailed)}}, providers.StatusPaid, "T1"},
		{"partially refunded", Order{Status: OrderPaid, Transactions: []Transaction{tx("T1", PaymentPartiallyRefunded)}}, providers.StatusPartiallyRefunded, "T1"},
		{"refunded", Order{Status: OrderPaid, Transactions: []Transaction{tx("T1", PaymentRefunded)}}, providers.StatusRefunded, "T1"},
		{"cancelled", Order{Status: OrderCancelled}, providers.StatusCancelled, ""},
		{"expired", Order{Status: OrderExpired}, providers.StatusExpired, ""},
		{"attempted and failed", Order{Status: OrderAttempted, Transactions: []Transaction{tx("T1", PaymentFailed)}}, providers.StatusDeclined, "T1"},
		{"attempted, retry pending", Order{Status: OrderAttempted, Transactions: []Transaction{tx("T1", PaymentFailed), tx("T2", PaymentPendingWithBank)}}, providers.StatusPending, "T2"},
		{"attempted, authorized", Order{Status: OrderAttempted, Transactions: []Transaction{tx("T1", PaymentAuthorized)}}, providers.StatusPending, "T1"},
		{"attempted, payment success but order not paid", Order{Status: OrderAttempted, Transactions: []Transaction{tx("T1", PaymentSuccess)}}, providers.StatusPending, "T1"},
		{"attempted, payment cancelled", Order{Status: OrderAttempted, Transactions: []Transaction{tx("T1", PaymentCancelled)}}, providers.StatusPending, "T1"},
		{"attempted without transactions", Order{Status: OrderAttempted}, providers.StatusPending, ""},
		{"created with a failed payment", Order{Status: OrderCreated, Transactions: []Transaction{tx("T1", PaymentFailed)}}, providers.StatusPending, "T1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, p := orderStatus(tc.order)
			if got != tc.want || p.TransactionID != tc.payment {
				t.Fatalf("orderStatus = %q (payment %q), want %q (payment %q)", got, p.TransactionID, tc.want, tc.payment)
			}
		})
	}
}

func TestPaymentAndRefundStatus(t *testing.T) {
	for _, tc := range []struct {
		in            string
		payment, fund providers.Status
	}{
		{PaymentCreated, providers.StatusPending, providers.StatusPending},
		{PaymentAuthorized, providers.StatusPending, providers.StatusPending},
		{PaymentPendingWithBank, providers.StatusPending, providers.StatusPending},
		{PaymentSuccess, providers.StatusPaid, providers.StatusRefunded},
		{PaymentFailed, providers.StatusDeclined, providers.StatusDeclined},
		{PaymentCancelled, providers.StatusCancelled, providers.StatusDeclined},
		{PaymentPartiallyRefunded, providers.StatusPartiallyRefunded, providers.StatusRefunded},
		{PaymentRefunded, providers.StatusRefunded, providers.StatusRefunded},
		{"", providers.StatusPending, providers.StatusPending},
		{"success", providers.StatusPending, providers.StatusPending},
	} {
		if got := paymentStatus(tc.in); got != tc.payment {
			t.Errorf("paymentStatus(%q) = %q, want %q", tc.in, got, tc.payment)
		}
		if got := refundStatus(tc.in); got != tc.fund {
			t.Errorf("refundStatus(%q) = %q, want %q", tc.in, got, tc.fund)
		}
	}
}

func TestKindFor(t *testing.T) {
	for _, tc := range []struct {
		status, code int
		want         error
	}{
		{400, CodeValidation, providers.ErrInvalid},
		{409, CodeDuplicateOrder, providers.ErrConflict},
		{401, CodeInvalidAccessKey, providers.ErrAuth},
		{401, CodeTokenInvalid, providers.ErrAuth},
		{200, CodeTokenInvalid, providers.ErrAuth},
		{404, CodeOrderNotFound, providers.ErrNotFound},
		{404, CodePaymentNotFound, providers.ErrNotFound},
		{400, CodeRefundExceeds, providers.ErrInvalid},
		{409, CodeNotRefundable, providers.ErrConflict},
		{409, CodeRefundRequestReuse, providers.ErrConflict},
		{429, CodeTooManyRequests, providers.ErrRateLimited},
		{500, CodeInternal, providers.ErrUnavailable},
		{503, CodeValidation, providers.ErrUnavailable},
		{403, 777, providers.ErrAuth},
		{404, 777, providers.ErrNotFound},
		{422, 777, providers.ErrInvalid},
		{200, 777, providers.ErrUnavailable},
	} {
		if got := kindFor(tc.status, tc.code); got != tc.want {
			t.Errorf("kindFor(%d, %d) = %v, want %v", tc.status, tc.code, got, tc.want)
		}
	}
}

func TestAmountConversion(t *testing.T) {
	for _, tc := range []struct {
		minor int64
		wire  Decimal
	}{
		{1, "0.01"}, {10, "0.10"}, {1234, "12.34"}, {1234507, "12345.07"}, {100_00, "100.00"}, {1_000_000_000_00, "1000000000.00"},
	} {
		d, err := toDecimal(tc.minor, "INR")
		if err != nil || d != tc.wire {
			t.Errorf("toDecimal(%d) = %q, %v; want %q", tc.minor, d, err, tc.wire)
		}
		b, err := json.Marshal(Amount{Value: d, Currency: "INR"})
		if err != nil || string(b) != `{"value":`+string(tc.wire)+`,"currency":"INR"}` {
			t.Errorf("wire %s, %v", b, err)
		}
		var back Amount
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if n, err := toMinor(back.Value, "INR"); err != nil || n != tc.minor {
			t.Errorf("round trip of %d gave %d, %v", tc.minor, n, err)
		}
	}
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{`20.15`, 2015, true}, {`"100"`, 100_00, true}, {`100`, 100_00, true}, {`100.0`, 100_00, true},
		{`12345.07`, 1234507, true}, {`0.1`, 10, true}, {`12.340`, 1234, true},
		{`12.345`, 0, false}, {`1e3`, 0, false}, {`-5`, -500, true}, {`null`, 0, false}, {`"abc"`, 0, false},
		{`""`, 0, false}, {`"12,34"`, 0, false}, {`99999999999999999999`, 0, false},
	} {
		var d Decimal
		err := json.Unmarshal([]byte(tc.in), &d)
		var n int64
		if err == nil {
			n, err = toMinor(d, "INR")
		}
		if (err == nil) != tc.ok || (tc.ok && n != tc.want) {
			t.Errorf("amount %s = %d, %v; want %d ok=%v", tc.in, n, err, tc.want, tc.ok)
		}
	}
	for _, bad := range []string{`true`, `{}`, `[1]`, `1.`, `.5`} {
		var d Decimal
		if err := json.Unmarshal([]byte(bad), &d); err == nil {
			t.Errorf("Decimal accepted %s", bad)
		}
	}
	if _, err := json.Marshal(Decimal("12,34")); err == nil {
		t.Error("marshalled a non-number amount")
	}
}

func FuzzAmount(f *testing.F) {
	for _, s := range []string{"12.34", "0.01", "100", "1e5", "-1", "12.345", "12.340", "00012.30", "", ".", "9223372036854775807", "92233720368547758.08"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := toMinor(Decimal(s), "INR")
		if err != nil {
			return
		}
		d, err := toDecimal(n, "INR")
		if err != nil {
			t.Fatalf("toDecimal(%d): %v", n, err)
		}
		back, err := toMinor(d, "INR")
		if err != nil || back != n {
			t.Fatalf("%q -> %d -> %q -> %d, %v", s, n, d, back, err)
		}
		// Whatever parsed must also be valid on the wire.
		if _, err := json.Marshal(d); err != nil {
			t.Fatalf("%q does not marshal: %v", d, err)
		}
	})
}

func TestMerchantOrderID(t *testing.T) {
	long := strings.Repeat("a", 60)
	for _, tc := range []struct{ in, prefix string }{
		{"att123", "att123"},
		{"att_123", "att123X"},
		{"att-123", "att123X"},
		{"", "X"},
		{long, strings.Repeat("a", 37) + "X"},
	} {
		got := merchantOrderID(tc.in)
		if !validOrderID(got) || !strings.HasPrefix(got, tc.prefix) {
			t.Errorf("merchantOrderID(%q) = %q, want a valid id starting %q", tc.in, got, tc.prefix)
		}
		if merchantOrderID(tc.in) != got {
			t.Errorf("merchantOrderID(%q) is not deterministic", tc.in)
		}
	}
	if merchantOrderID("att_123") == merchantOrderID("att-123") {
		t.Error("different references share an orderId")
	}
	if merchantOrderID("att123") != "att123" {
		t.Error("an alphanumeric reference is not used as is")
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		h    string
		want time.Duration
	}{
		{"", 0}, {"3", 3 * time.Second}, {" 0 ", 0}, {"-1", 0}, {"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
	} {
		if got := retryAfter(tc.h, now); got != tc.want {
			t.Errorf("retryAfter(%q) = %v, want %v", tc.h, got, tc.want)
		}
	}
}

func TestErrorsCarryProviderWords(t *testing.T) {
	e := &providers.Error{Provider: providers.EnKash, Op: "x", Kind: providers.ErrInvalid}
	fillFromEnvelope(e, []byte(`{"response_code":100,"response_message":"Validation failed","payload":"orderId is required"}`))
	if e.Code != "100" || e.Message != "Validation failed: orderId is required" {
		t.Fatalf("error %+v", e)
	}
	if !errors.Is(e, providers.ErrInvalid) {
		t.Fatal("kind lost")
	}
}
