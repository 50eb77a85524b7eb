package sandbox

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

type answer struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func do(t *testing.T, h http.Handler, path, body string, header map[string]string) answer {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "http://sandbox.test"+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	a := answer{status: rec.Code, header: rec.Header(), raw: rec.Body.String()}
	json.Unmarshal(rec.Body.Bytes(), &a.body)
	return a
}

func accessToken(t *testing.T, s *Server) string {
	t.Helper()
	c := DefaultCredentials()
	b, _ := json.Marshal(map[string]any{"apiKey": c.APIKey, "apiSecret": c.APISecret, "organisationId": c.OrganisationID, "merchantAccountNumber": c.MerchantAccountNumber})
	a := do(t, s, "/v1/account/getAccessToken", string(b), map[string]string{"X-Organisation-Id": c.OrganisationID, "X-Merchant-Account-Number": "12345678"})
	if a.status != 200 {
		t.Fatalf("token: %d %s", a.status, a.raw)
	}
	if len(strings.Split(a.body["accessToken"].(string), ".")) != 3 {
		t.Fatalf("token answer %v", a.body)
	}
	if _, err := time.Parse(time.RFC3339, a.body["expiresOn"].(string)); err != nil {
		t.Fatalf("expiresOn: %v", err)
	}
	return a.body["accessToken"].(string)
}

func TestDefaultCredentialsMatchTheDocs(t *testing.T) {
	c := DefaultCredentials()
	if len(c.APISecret) != 45 || c.MerchantAccountNumber < 10000000 || c.MerchantAccountNumber > 99999999 || c.OrganisationID == "" {
		t.Fatalf("%+v", c)
	}
	b, _ := json.Marshal(c)
	for _, f := range []string{`"apiKey"`, `"apiSecret"`, `"organisationId"`, `"merchantAccountNumber"`, `"capturedBy"`} {
		if !strings.Contains(string(b), f) {
			t.Errorf("credentials JSON lacks %s: %s", f, b)
		}
	}
}

// TestDocumentedDirectPushExample sends the docs' direct-push example as is (with a token).
func TestDocumentedDirectPushExample(t *testing.T) {
	s := New(Config{})
	tok := accessToken(t, s)
	c := DefaultCredentials()
	b, _ := json.Marshal(c)
	if a := do(t, s, "/v1/account/getAccessToken", string(b), nil); a.body["expiryInMinutes"] != 5.0 {
		t.Fatalf("tokens live 5 minutes by default: %s", a.raw)
	}
	example := `{ "merchantAccountNumber": 12345678, "connectorId": 550044, "payerAccountNumber": "0999000000",
  "sourceReferenceNumber": "OKPG90WOIJD98JKSJKH", "transactionDescription": "Groceries Order Payment",
  "transactionAmount": 100.00, "capturedBy": "john.doe@onekhusa.com" }`
	h := map[string]string{"Authorization": "Bearer " + tok, "X-Idempotency-Key": "12345678-0190a1b2-c3d4-7e5f", "Accept-Language": "en"}
	a := do(t, s, "/v1/collections/push/direct/initiate", example, h)
	if a.status != 200 || a.body["responseCode"] != "I100" || a.body["transactionStatusCode"] != "P" {
		t.Fatalf("%d %s", a.status, a.raw)
	}
	ref := a.body["transactionReferenceNumber"].(string)
	if len(ref) != 12 {
		t.Fatalf("reference %q", ref)
	}
	get := func() answer {
		return do(t, s, "/v1/collections/getTransaction", `{"merchantAccountNumber":12345678,"transactionReferenceNumber":"`+ref+`"}`,
			map[string]string{"Authorization": "Bearer " + tok, "X-Organisation-Id": "FYH0NTVW0DXK", "X-Merchant-Account-Number": "12345678"})
	}
	g := get()
	tx, _ := g.body["transaction"].(map[string]any)
	src, _ := g.body["source"].(map[string]any)
	if g.status != 200 || tx["transactionStatusCode"] != "P" || src["amountSent"] != 100.0 || src["sourceReferenceNumber"] != "OKPG90WOIJD98JKSJKH" {
		t.Fatalf("%d %s", g.status, g.raw)
	}
	if err := s.ApprovePush(ref); err != nil {
		t.Fatal(err)
	}
	if tx := get().body["transaction"].(map[string]any); tx["transactionStatusCode"] != "S" || tx["transactionStatusName"] != "Successful" {
		t.Fatalf("after approval: %v", tx)
	}
	// The same key with the same body replays the answer; with another body it conflicts.
	if again := do(t, s, "/v1/collections/push/direct/initiate", example, h); again.status != 200 || again.body["transactionReferenceNumber"] != ref {
		t.Fatalf("replay: %d %s", again.status, again.raw)
	}
	other := strings.Replace(example, "100.00", "101.00", 1)
	if c := do(t, s, "/v1/collections/push/direct/initiate", other, h); c.status != 409 || c.body["status"] != 409.0 {
		t.Fatalf("conflict: %d %s", c.status, c.raw)
	}
}

func TestAuthAndHeaders(t *testing.T) {
	s := New(Config{})
	body := `{"merchantAccountNumber":12345678,"transactionReferenceNumber":"B250713MGRTW"}`
	if a := do(t, s, "/v1/collections/getTransaction", body, nil); a.status != 401 || a.body["errorCode"] != "E401" {
		t.Fatalf("no token: %d %s", a.status, a.raw)
	}
	bad := `{"apiKey":"x","apiSecret":"y","organisationId":"FYH0NTVW0DXK","merchantAccountNumber":12345678}`
	if a := do(t, s, "/v1/account/getAccessToken", bad, nil); a.status != 401 {
		t.Fatalf("bad credentials: %d %s", a.status, a.raw)
	}
	if a := do(t, s, "/v1/account/getAccessToken", `{"apiKey":"x","merchantAccountNumber":123}`, nil); a.status != 400 || len(a.body["errors"].([]any)) < 3 {
		t.Fatalf("invalid token request: %d %s", a.status, a.raw)
	}
	tok := accessToken(t, s)
	auth := map[string]string{"Authorization": "Bearer " + tok}
	if a := do(t, s, "/v1/collections/getTransaction", body, auth); a.status != 400 || a.body["errorCode"] != "E900" {
		t.Fatalf("missing merchant headers: %d %s", a.status, a.raw)
	}
	auth["X-Organisation-Id"], auth["X-Merchant-Account-Number"] = "FYH0NTVW0DXK", "87654321"
	if a := do(t, s, "/v1/collections/getTransaction", body, auth); a.status != 403 {
		t.Fatalf("another merchant's header: %d %s", a.status, a.raw)
	}
	auth["X-Merchant-Account-Number"] = "12345678"
	if a := do(t, s, "/v1/collections/getTransaction", body, auth); a.status != 204 || a.raw != "" {
		t.Fatalf("unknown transaction: %d %q", a.status, a.raw)
	}
	short := `{"merchantAccountNumber":1234,"transactionReferenceNumber":"B25"}`
	a := do(t, s, "/v1/collections/getTransaction", short, auth)
	if a.status != 400 || a.header.Get("Content-Type") != "application/problem+json" || a.body["type"] != "https://httpstatuses.com/400" ||
		a.body["detail"] != "Validation failed" || !strings.Contains(a.raw, "Transaction Reference Number should be exact 12 characters.") {
		t.Fatalf("validation: %d %s", a.status, a.raw)
	}
	s.ExpireTokens()
	if a := do(t, s, "/v1/collections/getTransaction", body, auth); a.status != 401 {
		t.Fatalf("expired token: %d %s", a.status, a.raw)
	}
}

func TestTokenLifetime(t *testing.T) {
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	s := New(Config{Now: func() time.Time { return now }, TokenLifetime: time.Minute})
	tok := accessToken(t, s)
	h := map[string]string{"Authorization": "Bearer " + tok, "X-Organisation-Id": "FYH0NTVW0DXK", "X-Merchant-Account-Number": "12345678"}
	body := `{"merchantAccountNumber":12345678,"transactionReferenceNumber":"B250713MGRTW"}`
	if a := do(t, s, "/v1/collections/getTransaction", body, h); a.status != 204 {
		t.Fatalf("fresh token: %d", a.status)
	}
	now = now.Add(time.Minute)
	if a := do(t, s, "/v1/collections/getTransaction", body, h); a.status != 401 {
		t.Fatalf("token past its lifetime: %d", a.status)
	}
}

func TestRateLimit(t *testing.T) {
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	s := New(Config{Now: func() time.Time { return now }})
	tok := accessToken(t, s)
	h := map[string]string{"Authorization": "Bearer " + tok, "X-Organisation-Id": "FYH0NTVW0DXK", "X-Merchant-Account-Number": "12345678"}
	body := `{"merchantAccountNumber":12345678,"transactionReferenceNumber":"B250713MGRTW"}`
	for i := 0; i < 50; i++ {
		if a := do(t, s, "/v1/collections/getTransaction", body, h); a.status != 204 {
			t.Fatalf("request %d: %d", i+1, a.status)
		}
	}
	a := do(t, s, "/v1/collections/getTransaction", body, h)
	if a.status != 429 || a.header.Get("X-RateLimit-Limit") != "50" || a.header.Get("X-RateLimit-Remaining") != "0" ||
		a.header.Get("X-RateLimit-Reset") != "1777629601" {
		t.Fatalf("51st request: %d %v", a.status, a.header)
	}
	now = now.Add(time.Second)
	if a := do(t, s, "/v1/collections/getTransaction", body, h); a.status != 204 {
		t.Fatalf("next second: %d", a.status)
	}
}

// TestHostedPage checks the page's accessible shape and the redirect it answers.
func TestHostedPage(t *testing.T) {
	s := New(Config{Prefix: "/sandbox/onekhusa"})
	tok := accessToken(t, s)
	checkout := `{"payment":{"merchantAccountNumber":12345678,"amount":150.00,"description":"Groceries purchase",
		"sourceReferenceNumber":"DR48JS93G3F","capturedBy":"username@onekhusa.com"},
		"route":{"successRedirectionUrl":"https://shop.test/ok?order=7#top","failureRedirectionUrl":"https://shop.test/fail?order=7"}}`
	req := httptest.NewRequest(http.MethodPost, "http://kassa.test/v1/checkout/push/initiate", strings.NewReader(checkout))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("X-Idempotency-Key", "12345678-hosted-page-test")
	req.Header.Set("X-Forwarded-Proto", "https")
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	var out map[string]any
	json.Unmarshal(rec.Body.Bytes(), &out)
	page, _ := out["checkoutUrl"].(string)
	ptid, _ := out["paymentTransactionId"].(string)
	if rec.Code != 200 || page != "https://kassa.test/sandbox/onekhusa/pay/"+ptid || out["expiryInMinutes"] != 10.0 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	get := httptest.NewRecorder()
	s.ServeHTTP(get, httptest.NewRequest(http.MethodGet, "/pay/"+ptid, nil))
	html := get.Body.String()
	if get.Code != 200 || strings.Count(html, "<h1") != 1 || strings.Count(html, "<form") != 1 || strings.Contains(html, "<script") ||
		!strings.Contains(html, `<form method="post" action="/sandbox/onekhusa/pay/`+ptid+`">`) ||
		!strings.Contains(html, "MWK 150.00") || !strings.Contains(html, "DR48JS93G3F") || !strings.Contains(html, `name="viewport"`) {
		t.Fatalf("page:\n%s", html)
	}
	for _, b := range []string{`value="pay">Pay</button>`, `value="decline">Decline</button>`, `value="cancel">Cancel</button>`} {
		if !strings.Contains(html, `<button type="submit" name="action" `+b) {
			t.Errorf("page lacks %s", b)
		}
	}
	post := func(action string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/pay/"+ptid, strings.NewReader(url.Values{"action": {action}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		return w
	}
	w := post("pay")
	loc := w.Header().Get("Location")
	if w.Code != http.StatusSeeOther || !strings.HasPrefix(loc, "https://shop.test/ok?order=7&") || !strings.HasSuffix(loc, "#top") ||
		!strings.Contains(loc, "transactionStatusCode=S") || !strings.Contains(loc, "transactionReferenceNumber="+out["transactionReferenceNumber"].(string)) {
		t.Fatalf("after pay: %d %s", w.Code, loc)
	}
	if again := post("cancel"); again.Header().Get("Location") != loc {
		t.Fatalf("a second submission went to %s", again.Header().Get("Location"))
	}
	if w := post("steal"); w.Code != 400 {
		t.Fatalf("unknown action: %d", w.Code)
	}
}

func TestWithQuery(t *testing.T) {
	extra := url.Values{"a": {"1"}}
	for in, want := range map[string]string{
		"https://x.test/r":            "https://x.test/r?a=1",
		"https://x.test/r?k=1":        "https://x.test/r?k=1&a=1",
		"https://x.test/r?":           "https://x.test/r?a=1",
		"https://x.test/r?k=%20#frag": "https://x.test/r?k=%20&a=1#frag",
	} {
		if got := withQuery(in, extra); got != want {
			t.Errorf("withQuery(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPushExpiresUnanswered(t *testing.T) {
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	s := New(Config{Now: func() time.Time { return now }})
	tok := accessToken(t, s)
	body := `{"merchantAccountNumber":12345678,"connectorId":550045,"payerAccountNumber":"0888123456","sourceReferenceNumber":"R1",
		"transactionDescription":"d","transactionAmount":"5","capturedBy":"a@b.mw"}`
	a := do(t, s, "/v1/collections/push/direct/initiate", body, map[string]string{"Authorization": "Bearer " + tok, "X-Idempotency-Key": "expiring-push-0001"})
	if a.status != 200 {
		t.Fatalf("%d %s", a.status, a.raw)
	}
	now = now.Add(2 * time.Minute)
	err := s.ApprovePush(a.body["transactionReferenceNumber"].(string))
	if err == nil || !strings.Contains(err.Error(), "no longer pending") {
		t.Fatalf("approving an expired prompt: %v", err)
	}
	wrong := strings.Replace(body, "0888123456", "0999123456", 1)
	b := do(t, s, "/v1/collections/push/direct/initiate", wrong, map[string]string{"Authorization": "Bearer " + tok, "X-Idempotency-Key": "expiring-push-0002"})
	if b.status != 400 || !strings.Contains(b.raw, "not a TNM Mpamba number") {
		t.Fatalf("wrong network: %d %s", b.status, b.raw)
	}
}

func TestIndexAndUnknownPaths(t *testing.T) {
	s := New(Config{})
	for path, want := range map[string]int{"/": 200, "/phone": 200, "/pay/nope": 404} {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != want {
			t.Errorf("GET %s: %d, want %d", path, rec.Code, want)
		}
	}
	a := do(t, s, "/v1/nope", "{}", nil)
	if a.status != 404 || a.body["status"] != 404.0 {
		t.Fatalf("%d %s", a.status, a.raw)
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/account/getAccessToken", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("GET token endpoint: %d", rec.Code)
	}
}
