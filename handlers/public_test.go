package handlers_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/kassa-pay/kassa/checkout"
	"github.com/kassa-pay/kassa/providers"
	ocsandbox "github.com/kassa-pay/kassa/providers/onecheckout/sandbox"
	"github.com/kassa-pay/kassa/providers/providertest"
)

// bare is a client without cookies that does not follow redirects: a stranger's script.
var bare = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// get sends a cookieless GET with the headers given in pairs and returns the answer, read.
func (e *env) get(t *testing.T, path string, headers ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", e.srv.URL+path, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := bare.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// countProviderCalls wraps the mounted Onecheckout simulator and counts its API calls: order
// creations and order fetches.
func (e *env) countProviderCalls() (creates, fetches *atomic.Int64) {
	creates, fetches = new(atomic.Int64), new(atomic.Int64)
	sb := e.server.Mounts["/sandbox/onecheckout"]
	e.server.Mounts["/sandbox/onecheckout"] = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == "POST" && r.URL.Path == "/api/v1.0/orders":
			creates.Add(1)
		case r.Method == "GET" && strings.HasPrefix(r.URL.Path, "/api/v1.0/orders/") && !strings.HasSuffix(r.URL.Path, "/events"):
			fetches.Add(1)
		}
		sb.ServeHTTP(w, r)
	})
	e.rebuild()
	return creates, fetches
}

// pendingAttempt starts an Onecheckout attempt on a new payment, as a shopper would.
func (e *env) pendingAttempt(t *testing.T) (*checkout.Payment, checkout.Attempt) {
	t.Helper()
	p := e.newPayment(t, 6197)
	resp := e.submit(t, "/checkout/"+p.ID, url.Values{"provider": {"onecheckout"}})
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("choose: %d", resp.StatusCode)
	}
	got, _ := e.svc.Payment(context.Background(), p.ID)
	return got, got.Attempts[0]
}

// Sixty concurrent loads of one status page from one address make at most the per-address
// limit of provider fetches; the rest are answered 429 with a friendly page and Retry-After
// and never reach the provider. A shopper elsewhere then chooses a provider and gets an order
// made at once: the provider never throttled Kassa and its in-flight cap was never reached.
func TestStatusPageFloodDoesNotStarveAShopper(t *testing.T) {
	e := newEnv(t)
	const limit = 20
	e.limitPublic(limit, "127.0.0.1")
	p, a := e.pendingAttempt(t)
	sb := e.server.Mounts["/sandbox/onecheckout"].(*ocsandbox.Server)
	creates, fetches := e.countProviderCalls()

	var ok, limited atomic.Int64
	var wg sync.WaitGroup
	for range 60 {
		wg.Go(func() {
			resp, body := e.get(t, "/checkout/"+p.ID+"/attempts/"+a.ID, "X-Forwarded-For", "203.0.113.9")
			switch resp.StatusCode {
			case http.StatusOK:
				ok.Add(1)
			case http.StatusTooManyRequests:
				limited.Add(1)
				if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || s < 1 || s > 61 {
					t.Errorf("Retry-After %q", resp.Header.Get("Retry-After"))
				}
				if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(body, "<h1>Too many requests</h1>") ||
					!strings.Contains(body, "Please wait a minute") {
					t.Errorf("the 429 page is not the friendly one:\n%s", body)
				}
			default:
				t.Errorf("status page answered %d", resp.StatusCode)
			}
		})
	}
	wg.Wait()
	if ok.Load() > limit || limited.Load() < 60-limit {
		t.Fatalf("%d answered, %d refused: the address's limit is %d", ok.Load(), limited.Load(), limit)
	}
	if n := fetches.Load(); n > limit {
		t.Fatalf("the flood made %d provider fetches, more than the %d requests let through", n, limit)
	}

	// The shopper, from another address, is not held back.
	before := creates.Load()
	p2 := e.newPayment(t, 1500)
	resp := e.submit(t, "/checkout/"+p2.ID, url.Values{"provider": {"onecheckout"}})
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Location"), "/sandbox/onecheckout/") {
		t.Fatalf("the shopper's choice answered %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if n := creates.Load() - before; n != 1 {
		t.Fatalf("%d orders created for the shopper, want 1", n)
	}
	if st := sb.Stats(); st.RateLimited != 0 || st.PeakInFlight > 10 {
		t.Fatalf("the provider refused %d requests and saw %d in flight: Kassa went past its limits", st.RateLimited, st.PeakInFlight)
	}
}

// Without trusted proxies, X-Forwarded-For is not believed: a script cannot escape the
// per-address limit by inventing a new address for every request.
func TestForwardedForIsIgnoredWithoutTrustedProxies(t *testing.T) {
	e := newEnv(t)
	e.limitPublic(5)
	p := e.newPayment(t, 6197)
	limited := 0
	for i := range 10 {
		resp, _ := e.get(t, "/checkout/"+p.ID, "X-Forwarded-For", "198.51.100."+strconv.Itoa(i+1))
		if resp.StatusCode == http.StatusTooManyRequests {
			limited++
		}
	}
	if limited != 5 {
		t.Fatalf("%d of 10 refused with a new X-Forwarded-For each time, want 5", limited)
	}
}

// Provider callbacks are limited per address too (forged ones make Kassa ask the provider),
// counted apart from the pages, and refused with JSON.
func TestCallbacksRateLimited(t *testing.T) {
	e := newEnv(t)
	e.limitPublic(3)
	var last *http.Response
	var body []byte
	for range 4 {
		resp, err := http.Post(e.srv.URL+"/callbacks/paypal", "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		last = resp
	}
	if last.StatusCode != http.StatusTooManyRequests || !strings.Contains(string(body), `"code":"rate_limited"`) || last.Header.Get("Retry-After") == "" {
		t.Fatalf("fourth callback: %d %s", last.StatusCode, body)
	}
	// The pages' count is separate.
	if resp, _ := e.get(t, "/checkout/pay_unknown"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("a page after the callbacks: %d", resp.StatusCode)
	}
}

// Fifty cookieless hits of a return URL (with the provider's cancel outcome, which leaves a
// notice for the next page) write no session row.
func TestCookielessReturnsWriteNoSession(t *testing.T) {
	e := newEnv(t)
	p, a := e.pendingAttempt(t)
	for range 50 {
		resp, _ := e.get(t, "/checkout/"+p.ID+"/return/"+a.ID+"?outcome=cancel")
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("return: %d", resp.StatusCode)
		}
	}
	if n, err := e.store.CountSessions(context.Background()); err != nil || n != 0 {
		t.Fatalf("%d session rows after 50 cookieless returns (%v), want 0", n, err)
	}
	// A shopper's browser still gets the notice on the checkout page, once.
	if status, _ := e.page(t, "/checkout/"+p.ID+"/return/"+a.ID+"?outcome=cancel"); status != http.StatusSeeOther {
		t.Fatalf("return: %d", status)
	}
	if _, body := e.page(t, "/checkout/"+p.ID); !strings.Contains(body, "was cancelled or not completed") {
		t.Fatalf("the checkout page after a cancel return lacks the notice:\n%s", body)
	}
	if _, body := e.page(t, "/checkout/"+p.ID); strings.Contains(body, "was cancelled or not completed") {
		t.Fatal("the notice was shown twice")
	}
}

// The Bearer scheme is matched case-insensitively (RFC 7235 §2.1).
func TestBearerSchemeIsCaseInsensitive(t *testing.T) {
	e := newEnv(t)
	p := e.newPayment(t, 100)
	for _, scheme := range []string{"Bearer", "bearer", "BEARER", "bEaReR"} {
		status, body := e.api(t, "GET", "/api/payment/"+p.ID, "", "", "Authorization", scheme+" "+e.token)
		if status != http.StatusOK {
			t.Errorf("%q: %d %v", scheme, status, body)
		}
	}
	for _, bad := range []string{"Basic " + e.token, "Bearer", "Bearer ", e.token, "Bearer" + e.token} {
		if status, _ := e.api(t, "GET", "/api/payment/"+p.ID, "", "", "Authorization", bad); status != http.StatusUnauthorized {
			t.Errorf("%q: %d, want 401", bad, status)
		}
	}
}

// A JSON body naming a key twice is refused, whichever API reads it and however deep the key.
func TestDuplicateJSONKeysRefused(t *testing.T) {
	e := newEnv(t)
	dup := `{"amount": 100, "amount": 200, "currencyCode": "USD", "reference": "R", "referenceLabel": "R", "clientId": "` + e.app.ClientID + `"}`
	nested := `{"amount": 100, "currencyCode": "USD", "reference": "R", "referenceLabel": "R", "clientId": "` + e.app.ClientID +
		`", "lineItems": [{"name": "a", "quantity": 1, "unitAmount": 1, "unitAmount": 100}]}`
	for name, body := range map[string]string{"top level": dup, "in a line item": nested} {
		status, out := e.api(t, "POST", "/api/payment/checkout", e.token, body)
		if status != http.StatusBadRequest || !strings.Contains(out["message"].(string), "duplicate key") {
			t.Errorf("%s: %d %v, want 400 naming the duplicate key", name, status, out)
		}
	}
	if n, _ := e.store.CountPayments(context.Background()); n != 0 {
		t.Fatalf("%d payments created from refused bodies", n)
	}
	// The same key in two different objects is fine.
	ok := `{"amount": 100, "currencyCode": "USD", "reference": "R", "referenceLabel": "R", "clientId": "` + e.app.ClientID +
		`", "lineItems": [{"name": "a", "quantity": 1, "unitAmount": 50}, {"name": "b", "quantity": 1, "unitAmount": 50}]}`
	if status, out := e.api(t, "POST", "/api/payment/checkout", e.token, ok); status != http.StatusCreated {
		t.Fatalf("distinct objects with the same keys: %d %v", status, out)
	}
	// The dashboard API reads its bodies the same way.
	dash := e.dashboardToken(t)
	if status, out := e.api(t, "POST", "/api/payment-applications", dash, `{"name": "A", "name": "B"}`); status != http.StatusBadRequest {
		t.Fatalf("dashboard body with a duplicate key: %d %v", status, out)
	}
}

// The mounted simulators' pages cannot be framed, like Kassa's own.
func TestSandboxPagesCannotBeFramed(t *testing.T) {
	e := newEnv(t)
	resp, _ := e.get(t, "/sandbox/onecheckout/pay/nope")
	found := false
	for _, v := range resp.Header.Values("Content-Security-Policy") {
		found = found || strings.Contains(v, "frame-ancestors 'none'")
	}
	if !found {
		t.Fatalf("sandbox page CSP %q lacks frame-ancestors 'none'", resp.Header.Values("Content-Security-Policy"))
	}
}

// Strict-Transport-Security is sent when, and only when, Kassa's base URL is https.
func TestStrictTransportSecurity(t *testing.T) {
	e := newEnv(t)
	if resp, _ := e.get(t, "/healthz"); resp.Header.Get("Strict-Transport-Security") != "" {
		t.Fatal("HSTS sent for an http base URL")
	}
	e.server.BaseURL, _ = url.Parse("https://pay.example.com")
	e.rebuild()
	for _, path := range []string{"/healthz", "/checkout/pay_unknown", "/sandbox/onecheckout/pay/nope"} {
		if resp, _ := e.get(t, path); !strings.HasPrefix(resp.Header.Get("Strict-Transport-Security"), "max-age=") {
			t.Errorf("%s: no HSTS with an https base URL", path)
		}
	}
}

// Pages offering or following a simulated provider say "Test mode"; with live providers only,
// none does.
func TestTestModeBanner(t *testing.T) {
	e := newEnv(t)
	p := e.newPayment(t, 6197)
	if _, body := e.page(t, "/checkout/"+p.ID); strings.Contains(body, "Test mode") {
		t.Fatal("a live provider's checkout page says Test mode")
	}
	e.simulate(providers.Onecheckout)
	if _, body := e.page(t, "/checkout/"+p.ID); !strings.Contains(body, "Test mode") {
		t.Fatal("the checkout page offering a simulator does not say Test mode")
	}
	_, a := e.pendingAttempt(t)
	if _, body := e.page(t, "/checkout/"+a.PaymentID+"/attempts/"+a.ID); !strings.Contains(body, "Test mode") {
		t.Fatal("the pending page of a simulated attempt does not say Test mode")
	}
	back, err := (providertest.FormShopper{}).Complete(context.Background(), providers.Session{PayURL: a.PayURL}, providertest.Pay)
	if err != nil {
		t.Fatal(err)
	}
	e.page(t, strings.TrimPrefix(back.String(), e.srv.URL))
	if _, body := e.page(t, "/checkout/"+a.PaymentID); !strings.Contains(body, "Thank you") || !strings.Contains(body, "Test mode") {
		t.Fatalf("the thank-you page of a simulated payment does not say Test mode:\n%s", body)
	}
	// A live provider's thank-you page does not, though a simulator is still configured.
	e.simulate(providers.EnKash)
	if _, body := e.page(t, "/checkout/"+a.PaymentID); strings.Contains(body, "Test mode") {
		t.Fatal("a thank-you page for a live provider says Test mode")
	}
}

// TestFlashBoundToItsPayment: a flash cookie is signed together with its payment's id, so
// one left for one payment (copied, or planted by whoever can set cookies for the host) says
// nothing on another payment's page; on its own payment's page it still shows.
func TestFlashBoundToItsPayment(t *testing.T) {
	e := newEnv(t)
	p, a := e.pendingAttempt(t)
	other := e.newPayment(t, 500)
	resp, _ := e.get(t, "/checkout/"+p.ID+"/return/"+a.ID+"?outcome=cancel")
	var flash string
	for _, c := range resp.Cookies() {
		if c.Name == "kassa_flash" {
			flash = c.Value
		}
	}
	if flash == "" {
		t.Fatal("the cancel return left no flash cookie")
	}
	if _, body := e.get(t, "/checkout/"+other.ID, "Cookie", "kassa_flash="+flash); strings.Contains(body, "was cancelled or not completed") {
		t.Fatal("a flash left for one payment was shown on another payment's page")
	}
	if _, body := e.get(t, "/checkout/"+p.ID, "Cookie", "kassa_flash="+flash); !strings.Contains(body, "was cancelled or not completed") {
		t.Fatal("the flash is not shown on its own payment's page")
	}
}
