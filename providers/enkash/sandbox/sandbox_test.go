package sandbox

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

type harness struct {
	t   *testing.T
	srv *Server
	now time.Time
}

func newHarness(t *testing.T) *harness {
	h := &harness{t: t, now: time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)}
	h.srv = New(Config{Prefix: "/sandbox/enkash/", Now: func() time.Time { return h.now }})
	t.Cleanup(h.srv.Close)
	return h
}

func (h *harness) do(method, path, body string, hdr map[string]string) *httptest.ResponseRecorder {
	h.t.Helper()
	req := httptest.NewRequest(method, "http://kassa.example"+path, strings.NewReader(body))
	req.Header.Set("X-Forwarded-Proto", "https")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.srv.ServeHTTP(rec, req)
	return rec
}

func (h *harness) token() string {
	h.t.Helper()
	c := DefaultCredentials()
	rec := h.do("POST", "/api/v0/merchant/token", `{"accessKey":"`+c.AccessKey+`","secretKey":"`+c.SecretKey+`"}`, nil)
	var tr tokenResponse
	if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &tr) != nil || tr.Token == "" {
		h.t.Fatalf("token: %d %s", rec.Code, rec.Body)
	}
	if want := h.now.Add(30 * time.Minute).UnixMilli(); tr.Expiry != want || tr.ResultCode != 200 {
		h.t.Fatalf("token answer %+v, want expiry %d", tr, want)
	}
	return tr.Token
}

func (h *harness) auth(tok string) map[string]string {
	return map[string]string{"merchantAccessKey": DefaultCredentials().AccessKey, "Authorization": "Bearer " + tok}
}

type env struct {
	ResponseCode    int             `json:"response_code"`
	ResponseMessage string          `json:"response_message"`
	Payload         json.RawMessage `json:"payload"`
}

func decode(t *testing.T, rec *httptest.ResponseRecorder) env {
	t.Helper()
	var e env
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
		t.Fatalf("not an envelope: %s", rec.Body)
	}
	return e
}

// documentedExample is the docs' Create Order example.
const documentedExample = `{ "orderId": "RANDOMID123", "amount": { "value": 100.00, "currency": "INR" },
  "returnUrl": "https://merchant.example/return?cart=7", "notifyUrl": "https://merchant.example/notify",
  "customerInfo": {"firstName": "Asha", "lastName": "Rao", "email": "asha@example.com", "phoneNumber": "9999999999"},
  "customParameters": {"k": "v"}, "description": "Order 123" }`

func TestDocumentedExampleCreatesAnOrder(t *testing.T) {
	h := newHarness(t)
	tok := h.token()
	rec := h.do("POST", "/api/v0/orders", documentedExample, h.auth(tok))
	e := decode(t, rec)
	if rec.Code != 200 || e.ResponseCode != 0 {
		t.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	var o orderJSON
	if err := json.Unmarshal(e.Payload, &o); err != nil {
		t.Fatal(err)
	}
	if o.OrderID != "RANDOMID123" || string(o.Amount.Value) != "100.00" || o.Status != orderCreated {
		t.Fatalf("order %+v", o)
	}
	if o.CheckoutURL != "https://kassa.example/sandbox/enkash/checkout/RANDOMID123" {
		t.Fatalf("checkout URL %q", o.CheckoutURL)
	}
	rec = h.do("GET", "/api/v0/orders/RANDOMID123", "", h.auth(tok))
	if e := decode(t, rec); rec.Code != 200 || e.ResponseCode != 0 {
		t.Fatalf("get: %d %s", rec.Code, rec.Body)
	}
	rec = h.do("POST", "/api/v0/orders", documentedExample, h.auth(tok))
	if e := decode(t, rec); rec.Code != http.StatusConflict || e.ResponseCode != codeDuplicateOrder {
		t.Fatalf("duplicate: %d %s", rec.Code, rec.Body)
	}
}

func TestAuthEnforced(t *testing.T) {
	h := newHarness(t)
	c := DefaultCredentials()
	for _, body := range []string{`{"accessKey":"` + c.AccessKey + `","secretKey":"nope"}`, `{"accessKey":"nope","secretKey":"` + c.SecretKey + `"}`} {
		rec := h.do("POST", "/api/v0/merchant/token", body, nil)
		if rec.Code != http.StatusUnauthorized || strings.Contains(rec.Body.String(), `"token":"`+"x") {
			t.Fatalf("bad credentials: %d %s", rec.Code, rec.Body)
		}
	}
	if rec := h.do("POST", "/api/v0/merchant/token", `{`, nil); rec.Code != http.StatusBadRequest {
		t.Fatalf("malformed token request: %d", rec.Code)
	}
	tok := h.token()
	for name, hdr := range map[string]map[string]string{
		"no headers":         nil,
		"no access key":      {"Authorization": "Bearer " + tok},
		"wrong access key":   {"merchantAccessKey": "other", "Authorization": "Bearer " + tok},
		"no bearer":          {"merchantAccessKey": c.AccessKey, "Authorization": tok},
		"unknown token":      {"merchantAccessKey": c.AccessKey, "Authorization": "Bearer abc"},
		"basic instead":      {"merchantAccessKey": c.AccessKey, "Authorization": "Basic " + tok},
		"empty bearer token": {"merchantAccessKey": c.AccessKey, "Authorization": "Bearer "},
	} {
		rec := h.do("GET", "/api/v0/orders/X", "", hdr)
		e := decode(t, rec)
		if rec.Code != http.StatusUnauthorized || (e.ResponseCode != codeTokenInvalid && e.ResponseCode != codeInvalidAccessKey) {
			t.Errorf("%s: %d %s", name, rec.Code, rec.Body)
		}
	}
	// The token dies with time and with ExpireTokens.
	h.now = h.now.Add(31 * time.Minute)
	rec := h.do("GET", "/api/v0/orders/X", "", h.auth(tok))
	if e := decode(t, rec); e.ResponseCode != codeTokenInvalid || string(e.Payload) != `"Token is invalid."` {
		t.Fatalf("expired token: %d %s", rec.Code, rec.Body)
	}
	tok = h.token()
	h.srv.ExpireTokens()
	if e := decode(t, h.do("GET", "/api/v0/orders/X", "", h.auth(tok))); e.ResponseCode != codeTokenInvalid {
		t.Fatalf("token survived ExpireTokens")
	}
	if issued, rejected := h.srv.TokenStats(); issued != 2 || rejected < 3 {
		t.Fatalf("stats %d %d", issued, rejected)
	}
}

func TestCreateValidation(t *testing.T) {
	h := newHarness(t)
	tok := h.token()
	for _, body := range []string{
		`not json`,
		`{}`,
		`{"orderId":"A1","amount":{"value":10,"currency":"USD"}}`,
		`{"orderId":"A-1","amount":{"value":10,"currency":"INR"}}`,
		`{"orderId":"` + strings.Repeat("A", 51) + `","amount":{"value":10,"currency":"INR"}}`,
		`{"orderId":"A1","amount":{"value":10.123,"currency":"INR"}}`,
		`{"orderId":"A1","amount":{"value":0,"currency":"INR"}}`,
		`{"orderId":"A1","amount":{"value":-1,"currency":"INR"}}`,
		`{"orderId":"A1","amount":{"value":1e3,"currency":"INR"}}`,
		`{"orderId":"A1","amount":{"value":1000000000.01,"currency":"INR"}}`,
		`{"orderId":"A1","amount":{"currency":"INR"}}`,
		`{"orderId":"A1","amount":{"value":10,"currency":"INR"},"returnUrl":"/relative"}`,
		`{"orderId":"A1","amount":{"value":10,"currency":"INR"},"notifyUrl":"ftp://x"}`,
		`{"orderId":"A1","amount":{"value":10,"currency":"INR"},"paymentDetail":{"ifsc":"SHORT"}}`,
		`{"orderId":"A1","amount":{"value":10,"currency":"INR"}} trailing`,
	} {
		rec := h.do("POST", "/api/v0/orders", body, h.auth(tok))
		if e := decode(t, rec); rec.Code != http.StatusBadRequest || e.ResponseCode != codeValidation {
			t.Errorf("%s: %d %s", body, rec.Code, rec.Body)
		}
	}
	// An amount sent as a string and a minimal order are fine.
	rec := h.do("POST", "/api/v0/orders", `{"orderId":"A2","amount":{"value":"0.01","currency":"INR"}}`, h.auth(tok))
	if rec.Code != 200 {
		t.Fatalf("minimal order: %d %s", rec.Code, rec.Body)
	}
}

func TestPayPageAndReturn(t *testing.T) {
	h := newHarness(t)
	tok := h.token()
	h.do("POST", "/api/v0/orders", documentedExample, h.auth(tok))
	rec := h.do("GET", "/checkout/RANDOMID123", "", nil)
	body := rec.Body.String()
	if rec.Code != 200 || strings.Count(body, "<h1") != 1 || strings.Count(body, "<form") != 1 || strings.Contains(body, "<script") {
		t.Fatalf("page: %d\n%s", rec.Code, body)
	}
	for _, want := range []string{
		`<html lang="en">`, `name="viewport"`, `100.00`, `RANDOMID123`, `method="post"`,
		`action="https://kassa.example/sandbox/enkash/checkout/RANDOMID123"`,
		`<button type="submit" name="action" value="pay">Pay</button>`,
		`<button type="submit" name="action" value="decline">Decline</button>`,
		`<button type="submit" name="action" value="cancel">Cancel</button>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	rec = h.do("POST", "/checkout/RANDOMID123", "action=pay", map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("pay: %d %s", rec.Code, rec.Body)
	}
	loc, _ := url.Parse(rec.Header().Get("Location"))
	q := loc.Query()
	if loc.Host != "merchant.example" || loc.Path != "/return" || q.Get("cart") != "7" || q.Get("orderId") != "RANDOMID123" ||
		q.Get("status") != paymentSuccess || !strings.HasPrefix(q.Get("transactionId"), "EK") {
		t.Fatalf("return to %s", loc)
	}
	rec = h.do("GET", "/api/v0/payment/"+q.Get("transactionId"), "", h.auth(tok))
	var p paymentJSON
	if e := decode(t, rec); json.Unmarshal(e.Payload, &p) != nil || p.Status != paymentSuccess || string(p.Amount) != "100.00" {
		t.Fatalf("payment: %s", rec.Body)
	}
	// A paid order cannot be acted on again.
	if rec := h.do("POST", "/checkout/RANDOMID123", "action=cancel", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}); rec.Code != http.StatusConflict {
		t.Fatalf("cancel after pay: %d", rec.Code)
	}
	if rec := h.do("GET", "/checkout/NOSUCH", "", nil); rec.Code != http.StatusNotFound {
		t.Fatalf("unknown order page: %d", rec.Code)
	}
	if rec := h.do("POST", "/checkout/RANDOMID123", "action=steal", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}); rec.Code != http.StatusBadRequest {
		t.Fatalf("unknown action: %d", rec.Code)
	}
}

func TestOrdersExpire(t *testing.T) {
	h := newHarness(t)
	tok := h.token()
	h.do("POST", "/api/v0/orders", `{"orderId":"E1","amount":{"value":10,"currency":"INR"}}`, h.auth(tok))
	h.now = h.now.Add(29 * time.Minute)
	h.do("POST", "/api/v0/orders", `{"orderId":"E2","amount":{"value":10,"currency":"INR"}}`, h.auth(tok))
	h.now = h.now.Add(2 * time.Minute)
	tok = h.token()
	status := func(id string) string {
		var o orderJSON
		json.Unmarshal(decode(t, h.do("GET", "/api/v0/orders/"+id, "", h.auth(tok))).Payload, &o)
		return o.Status
	}
	if s := status("E1"); s != orderExpired {
		t.Fatalf("E1 after its lifetime: %s", s)
	}
	if s := status("E2"); s != orderCreated {
		t.Fatalf("E2 within its lifetime: %s", s)
	}
	h.srv.ExpireOrder("E2")
	if s := status("E2"); s != orderExpired {
		t.Fatalf("E2 after ExpireOrder: %s", s)
	}
	if rec := h.do("GET", "/checkout/E2", "", nil); rec.Code != http.StatusConflict || !strings.Contains(rec.Body.String(), "expired") {
		t.Fatalf("expired page: %d", rec.Code)
	}
}

func TestAppendQueryKeepsTheOriginal(t *testing.T) {
	got := appendQuery("https://k.test/r/1?b=2&a=1&a=0&x=%2F", url.Values{"orderId": {"O1"}})
	if got != "https://k.test/r/1?b=2&a=1&a=0&x=%2F&orderId=O1" {
		t.Fatalf("got %s", got)
	}
}

func TestUnknownEndpoint(t *testing.T) {
	h := newHarness(t)
	rec := h.do("GET", "/api/v0/nothing", "", nil)
	if rec.Code != http.StatusNotFound || decode(t, rec).ResponseCode == 0 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	b, _ := io.ReadAll(rec.Result().Body)
	if !json.Valid(b) {
		t.Fatal("not JSON")
	}
}

func TestParseRupees(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"20.15", 2015, true}, {"20", 2000, true}, {"20.1", 2010, true}, {"20.150", 2015, true}, {"0.01", 1, true},
		{"20.155", 0, false}, {"-1", 0, false}, {"1e2", 0, false}, {"", 0, false}, {".5", 0, false}, {"5.", 0, false},
		{"1,000", 0, false}, {"9999999999999", 0, false},
	} {
		got, err := parseRupees(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseRupees(%q) = %d, %v", tc.in, got, err)
		}
	}
}

func FuzzParseRupees(f *testing.F) {
	for _, s := range []string{"20.15", "0", "0.01", "1000000000.00", "12.345", "1e9", "-0", "000.10"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parseRupees(s)
		if err != nil {
			return
		}
		if p < 0 {
			t.Fatalf("%q parsed negative", s)
		}
		back, err := parseRupees(formatRupees(p))
		if err != nil || back != p {
			t.Fatalf("%q -> %d -> %q -> %d", s, p, formatRupees(p), back)
		}
	})
}
