package onecheckout

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/kassa-pay/kassa/providers"
	"github.com/kassa-pay/kassa/providers/currency"
)

func TestOrderStatus(t *testing.T) {
	for in, want := range map[string]providers.Status{
		"OPEN":             providers.StatusPending,
		"AWAITING_CAPTURE": providers.StatusAuthorized,
		"PAID":             providers.StatusPaid,
		"CANCELLED":        providers.StatusCancelled,
		"REFUNDED":         providers.StatusRefunded,
		"paid":             providers.StatusPending, // undocumented spelling: never final
		"CANCELED":         providers.StatusPending,
		"EXPIRED":          providers.StatusPending,
		"":                 providers.StatusPending,
	} {
		if got := orderStatus(in); got != want {
			t.Errorf("orderStatus(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestErrorKind(t *testing.T) {
	for _, tc := range []struct {
		status int
		code   string
		want   error
	}{
		{400, "api_key_required", providers.ErrAuth},
		{401, "api_key_invalid", providers.ErrAuth},
		{401, "", providers.ErrAuth}, // {"error": "missing token"}
		{400, "validation_error", providers.ErrInvalid},
		{400, "currency_invalid", providers.ErrInvalid},
		{400, "amount_invalid", providers.ErrInvalid},
		{400, "id_required", providers.ErrInvalid},
		{400, "merchant_id_invalid", providers.ErrInvalid},
		{400, "id_invalid", providers.ErrNotFound},
		{403, "id_invalid", providers.ErrNotFound},
		{404, "id_invalid", providers.ErrNotFound},
		{404, "", providers.ErrNotFound},
		{400, "order_status_invalid", providers.ErrConflict},
		{500, "server_error", providers.ErrUnavailable},
		{502, "", providers.ErrUnavailable},
		{503, "validation_error", providers.ErrUnavailable}, // 5xx wins over the body
		{429, "", providers.ErrRateLimited},
		{429, "validation_error", providers.ErrRateLimited},
		{400, "something_new", providers.ErrInvalid},
		{418, "", providers.ErrInvalid},
		{302, "", providers.ErrUnavailable},
	} {
		if got := errorKind(tc.status, tc.code); got != tc.want {
			t.Errorf("errorKind(%d, %q) = %v, want %v", tc.status, tc.code, got, tc.want)
		}
	}
}

func TestParseErrorBody(t *testing.T) {
	for _, tc := range []struct {
		body, code, msg string
	}{
		{`{"error":{"code":"validation_error","message":"Invalid request data","details":[{"field":"currency","issue":"currency_invalid"}]}}`,
			"validation_error", "Invalid request data (currency: currency_invalid)"},
		{`{"error":"missing token"}`, "", "missing token"},
		{`{"error":"id_required"}`, "id_required", ""},
		{`{"error":"order_status_invalid"}`, "order_status_invalid", ""},
		{`{"error":{"code":"api_key_invalid","message":"bad","details":"free text"}}`, "api_key_invalid", "bad"},
		{`{"error":null,"message":"Too many requests"}`, "", "Too many requests"},
		{`<html>Bad Gateway</html>` + "\nmore", "", "<html>Bad Gateway</html>"},
		{``, "", ""},
	} {
		code, msg := parseErrorBody([]byte(tc.body))
		if code != tc.code || msg != tc.msg {
			t.Errorf("parseErrorBody(%s) = %q, %q; want %q, %q", tc.body, code, msg, tc.code, tc.msg)
		}
	}
}

func TestAmountToWire(t *testing.T) {
	for _, tc := range []struct {
		minor int64
		cur   string
		want  string
	}{
		{6197, "USD", "61.97"},
		{1234507, "USD", "12345.07"},
		{5, "EUR", "0.05"},
		{500, "JPY", "500"},
		{1234567, "KWD", "1234.567"},
		{1500, "KWD", "1.500"},
		{100000, "MWK", "1000.00"},
	} {
		got, err := amountToWire(tc.minor, tc.cur)
		if err != nil || string(got) != tc.want {
			t.Errorf("amountToWire(%d, %s) = %q, %v; want %q", tc.minor, tc.cur, got, err, tc.want)
		}
		// And what goes on the wire must be a JSON number with the same digits.
		b, _ := json.Marshal(struct {
			A json.Number `json:"a"`
		}{got})
		if string(b) != `{"a":`+tc.want+`}` {
			t.Errorf("marshalled %s", b)
		}
	}
	for _, bad := range []struct {
		minor int64
		cur   string
	}{{-1, "USD"}, {100, "XXX"}, {100, ""}} {
		if _, err := amountToWire(bad.minor, bad.cur); err == nil {
			t.Errorf("amountToWire(%d, %q) succeeded", bad.minor, bad.cur)
		}
	}
}

func TestAmountFromWire(t *testing.T) {
	for _, tc := range []struct {
		in   string
		cur  string
		want int64
		ok   bool
	}{
		{"61.97", "USD", 6197, true},
		{"12345.07", "USD", 1234507, true},
		{"12.3", "USD", 1230, true},
		{"12", "USD", 1200, true},
		{"0.5", "EUR", 50, true},
		{"500", "JPY", 500, true},
		{"1.5", "KWD", 1500, true},
		{"1234.567", "KWD", 1234567, true},
		{"61.970", "USD", 6197, true},
		{"61.975", "USD", 0, false},
		{"500.5", "JPY", 0, false},
		{"1e3", "USD", 0, false},
		{"-1.00", "USD", 0, false},
		{"", "USD", 0, false},
		{"1.", "USD", 0, false},
		{".5", "USD", 0, false},
		{"99999999999999999999", "USD", 0, false},
		{"10", "XXX", 0, false},
	} {
		got, err := amountFromWire(json.Number(tc.in), tc.cur)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("amountFromWire(%q, %s) = %d, %v; want %d ok=%t", tc.in, tc.cur, got, err, tc.want, tc.ok)
		}
	}
}

func TestResultChecksZeroDecimal(t *testing.T) {
	yes, no := true, false
	if _, err := result(Order{ID: "1", Status: "PAID", Currency: "JPY", ZeroDecimal: &no, Amount: "500"}, ""); err == nil {
		t.Error("JPY with zero_decimal false accepted")
	}
	if _, err := result(Order{ID: "1", Status: "PAID", Currency: "USD", ZeroDecimal: &yes, Amount: "5"}, ""); err == nil {
		t.Error("USD with zero_decimal true accepted")
	}
	r, err := result(Order{ID: "1", Status: "PAID", Amount: "5", PaymentID: "pi_1"}, "JPY")
	if err != nil || r.Amount != 5 || r.Currency != "JPY" || r.Status != providers.StatusPaid || r.PaymentID != "pi_1" {
		t.Errorf("result without currency = %+v, %v", r, err)
	}
}

func TestLatestPaymentFailure(t *testing.T) {
	ev := func(typ, ps string, created int64, e string) Event {
		return Event{Type: typ, PaymentStatus: ps, Created: created, Error: ErrorBody{Code: e}}
	}
	for _, tc := range []struct {
		name   string
		events []Event
		failed bool
		reason string
	}{
		{"none", nil, false, ""},
		{"created only", []Event{ev("payment_created", "PENDING", 1, "")}, false, ""},
		{"failed", []Event{ev("payment_created", "PENDING", 1, ""), ev("payment_failed", "FAILED", 2, "card_declined")}, true, "card_declined"},
		{"failed without words", []Event{ev("payment_failed", "", 2, "")}, true, "payment_failed"},
		{"declined status", []Event{ev("payment_updated", "DECLINED", 2, "")}, true, "payment_updated"},
		{"failed then retried", []Event{ev("payment_failed", "FAILED", 2, "x"), ev("payment_created", "PENDING", 3, "")}, false, ""},
		{"out of order", []Event{ev("payment_created", "PENDING", 3, ""), ev("payment_failed", "FAILED", 2, "x")}, false, ""},
		{"non-payment event after failure", []Event{ev("payment_failed", "FAILED", 2, "x"), ev("order_updated", "", 5, "")}, true, "x"},
	} {
		failed, reason := latestPaymentFailure(tc.events)
		if failed != tc.failed || reason != tc.reason {
			t.Errorf("%s: got %t %q, want %t %q", tc.name, failed, reason, tc.failed, tc.reason)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		v    string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"3", 3 * time.Second, true},
		{"0", 0, true},
		{"-1", 0, false},
		{"soon", 0, false},
		{now.Add(7 * time.Second).Format(http.TimeFormat), 7 * time.Second, true},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0, true},
	} {
		h := http.Header{}
		if tc.v != "" {
			h.Set("Retry-After", tc.v)
		}
		got, ok := retryAfter(h, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("retryAfter(%q) = %v %t, want %v %t", tc.v, got, ok, tc.want, tc.ok)
		}
	}
}

func TestLinesAddUp(t *testing.T) {
	for _, tc := range []struct {
		name  string
		lines []providers.Line
		total int64
		want  bool
	}{
		{"none", nil, 100, false},
		{"exact", []providers.Line{{Quantity: 2, UnitAmount: 300}, {Quantity: 1, UnitAmount: 400}}, 1000, true},
		{"short", []providers.Line{{Quantity: 2, UnitAmount: 300}}, 1000, false},
		{"zero quantity", []providers.Line{{Quantity: 0, UnitAmount: 1000}}, 1000, false},
		{"negative price", []providers.Line{{Quantity: 1, UnitAmount: 1100}, {Quantity: 1, UnitAmount: -100}}, 1000, false},
		{"overflow", []providers.Line{{Quantity: 1 << 40, UnitAmount: 1 << 40}}, 1000, false},
		{"free line", []providers.Line{{Quantity: 1, UnitAmount: 1000}, {Quantity: 3, UnitAmount: 0}}, 1000, true},
	} {
		if got := linesAddUp(tc.lines, tc.total); got != tc.want {
			t.Errorf("%s: linesAddUp = %t, want %t", tc.name, got, tc.want)
		}
	}
}

func TestCreateRequestFallsBackToOneLine(t *testing.T) {
	p := New(Config{})
	req, err := p.createRequest(providers.Order{
		Reference: "att1", Description: "Order #123", Amount: 1234567, Currency: "KWD",
		Lines:     []providers.Line{{Title: "Thing", Quantity: 1, UnitAmount: 5}},
		ReturnURL: "https://kassa.test/r?a=1",
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(req.OrderLines) != 1 || req.OrderLines[0].Title != "Order #123" || req.OrderLines[0].UnitPrice != "1234.567" ||
		req.OrderLines[0].Quantity != "1" || req.Amount != "1234.567" {
		t.Fatalf("lines %+v amount %s", req.OrderLines, req.Amount)
	}
	if req.CancelURL != req.SuccessURL || req.ReferenceID != "att1" {
		t.Fatalf("urls %q %q ref %q", req.SuccessURL, req.CancelURL, req.ReferenceID)
	}
	for _, bad := range []providers.Order{
		{Reference: "x", Amount: 0, Currency: "USD"},
		{Reference: "x", Amount: 100, Currency: "usd"},
	} {
		if _, err := p.createRequest(bad); err == nil {
			t.Errorf("createRequest(%+v) succeeded", bad)
		}
	}
}

func FuzzAmountFromWire(f *testing.F) {
	for _, s := range []string{"61.97", "0", "12.3", "1.500", "1e3", "-1", "", "00.10", "9223372036854775807", "1.0000000001"} {
		for _, c := range []string{"USD", "JPY", "KWD"} {
			f.Add(s, c)
		}
	}
	f.Fuzz(func(t *testing.T, s, cur string) {
		n, err := amountFromWire(json.Number(s), cur)
		if err != nil {
			return
		}
		if n < 0 {
			t.Fatalf("%q %s parsed negative %d", s, cur, n)
		}
		// What parses must survive a round trip through the wire form unchanged.
		w, err := amountToWire(n, cur)
		if err != nil {
			t.Fatalf("formatting %d %s: %v", n, cur, err)
		}
		back, err := amountFromWire(w, cur)
		if err != nil || back != n {
			t.Fatalf("round trip of %q %s: %d -> %q -> %d, %v", s, cur, n, w, back, err)
		}
		if _, ok := currency.Exponent(cur); !ok {
			t.Fatalf("unknown currency %q parsed", cur)
		}
	})
}

func FuzzParseErrorBody(f *testing.F) {
	for _, s := range []string{
		`{"error":{"code":"validation_error","message":"Invalid","details":[{"field":"currency","issue":"currency_invalid"}]}}`,
		`{"error":"missing token"}`, `{"error":"id_required"}`, `{"error":5}`, `{"error":{"details":{}}}`,
		`not json`, ``, `null`, `[]`, `{"error":"` + string(make([]byte, 500)) + `"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		code, msg := parseErrorBody(body)
		if len(code) > 304 || len(msg) > 304 {
			t.Fatalf("unbounded error text: %d, %d bytes", len(code), len(msg))
		}
		_ = errorKind(400, code)
	})
}

func FuzzEvents(f *testing.F) {
	for _, s := range []string{
		`{"events":[{"id":"e1","order_id":"1","type":"payment_failed","created":2,"error":"card_declined","payment_status":"FAILED"}]}`,
		`{"events":[{"type":"payment_created","error":{"code":"x"},"created":1}]}`,
		`{"events":null}`, `{}`, `{"events":[{"error":7}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var l eventList
		if json.Unmarshal(body, &l) != nil {
			return
		}
		failed, reason := latestPaymentFailure(l.Events)
		if failed && reason == "" {
			t.Fatal("a failure without a reason")
		}
	})
}
