package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/sessions"

	"github.com/kassa-pay/kassa/checkout"
	"github.com/kassa-pay/kassa/db"
	"github.com/kassa-pay/kassa/handlers"
	"github.com/kassa-pay/kassa/providers"
	"github.com/kassa-pay/kassa/providers/enkash"
	eksandbox "github.com/kassa-pay/kassa/providers/enkash/sandbox"
	"github.com/kassa-pay/kassa/providers/onecheckout"
	ocsandbox "github.com/kassa-pay/kassa/providers/onecheckout/sandbox"
	"github.com/kassa-pay/kassa/providers/providertest"
)

// env is Kassa's handler on an httptest server, with the Onecheckout sandbox mounted the way
// main mounts it and the adapter reaching it over HTTP.
type env struct {
	server *handlers.Server
	srv    *httptest.Server
	svc    *checkout.Service
	store  *db.DB
	app    *checkout.App
	token  string
	client *http.Client
	// rebuild makes the test server serve server.Handler() again, after a test changed server.
	rebuild func()
}

func newEnv(t *testing.T) *env { t.Helper(); return newEnvWith(t, false) }

// newEnvWith builds the env, with EnKash and its sandbox beside Onecheckout when enkash is set
// (for the provider-callback path, which Onecheckout does not have).
func newEnvWith(t *testing.T, withEnKash bool) *env {
	t.Helper()
	return newEnvOn(t, withEnKash, "sqlite:"+filepath.Join(t.TempDir(), "kassa.db"))
}

// newEnvOn is newEnvWith on the database at dbURL (SQLite or PostgreSQL).
func newEnvOn(t *testing.T, withEnKash bool, dbURL string) *env {
	t.Helper()
	ctx := context.Background()
	d, err := db.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	e := &env{store: d}
	var s *handlers.Server
	var h http.Handler
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(e.srv.Close)
	base, _ := url.Parse(e.srv.URL)
	oc := onecheckout.New(onecheckout.Config{BaseURL: e.srv.URL + "/sandbox/onecheckout/api/v1.0",
		APIKey: onecheckout.Secret(ocsandbox.DefaultCredentials().APIKey), Timeout: 10 * time.Second})
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	mounts := map[string]http.Handler{"/sandbox/onecheckout": ocsandbox.New(ocsandbox.Config{Prefix: "/sandbox/onecheckout", SlowDelay: 5 * time.Second})}
	registered := []providers.Provider{oc}
	if withEnKash {
		sb := eksandbox.New(eksandbox.Config{Prefix: "/sandbox/enkash"})
		t.Cleanup(sb.Close)
		mounts["/sandbox/enkash"] = sb
		c := eksandbox.DefaultCredentials()
		registered = append(registered, enkash.New(enkash.Config{BaseURL: e.srv.URL + "/sandbox/enkash/api/v0",
			AccessKey: c.AccessKey, SecretKey: enkash.Secret(c.SecretKey), Timeout: 10 * time.Second}))
	}
	e.svc = &checkout.Service{Store: d, Providers: providers.NewRegistry(registered...), URLs: checkout.URLs{Base: e.srv.URL}, Log: quiet}
	s = &handlers.Server{
		Checkout:    e.svc,
		Sessions:    d.NewSessionStore(bytes.Repeat([]byte("s"), 32), sessions.Options{Path: "/", MaxAge: 3600, HttpOnly: true}),
		CSRFKey:     bytes.Repeat([]byte("c"), 32),
		BaseURL:     base,
		Log:         quiet,
		Idempotency: d,
		Mounts:      mounts,
	}
	h = s.Handler()
	e.server = s
	e.rebuild = func() { h = s.Handler() }
	e.app, err = e.svc.NewApp(ctx, "Shop", "")
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := e.svc.NewToken(ctx, e.app.ClientID, []checkout.Scope{checkout.ScopeAll}, "test", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	e.token = tok.Reveal()
	jar, _ := cookiejar.New(nil)
	e.client = &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return e
}

func (e *env) api(t *testing.T, method, path, token, body string, headers ...string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s %s answered non-JSON %q", method, path, raw)
	}
	return resp.StatusCode, out
}

func (e *env) createBody(amount string) string {
	return `{"amount": ` + amount + `, "currencyCode": "USD", "reference": "ORDER-123", "referenceLabel": "Order #123", "clientId": "` + e.app.ClientID + `"}`
}

func TestCreateAndGetPayment(t *testing.T) {
	e := newEnv(t)
	status, body := e.api(t, "POST", "/api/payment/checkout", e.token, e.createBody("10000"))
	if status != http.StatusCreated {
		t.Fatalf("create: %d %v", status, body)
	}
	for _, k := range []string{"id", "status", "amount", "currencyCode", "reference", "checkoutUrl", "expiresAt", "createdAt"} {
		if _, ok := body[k]; !ok {
			t.Errorf("create answer lacks %q: %v", k, body)
		}
	}
	id := body["id"].(string)
	if body["status"] != "open" || body["amount"] != float64(10000) || body["checkoutUrl"] != e.srv.URL+"/checkout/"+id {
		t.Fatalf("create answer %v", body)
	}
	status, got := e.api(t, "GET", "/api/payment/"+id, e.token, "")
	if status != http.StatusOK || got["id"] != id || got["status"] != "open" {
		t.Fatalf("get: %d %v", status, got)
	}
	if status, _ := e.api(t, "GET", "/api/payment/pay_nope", e.token, ""); status != http.StatusNotFound {
		t.Fatalf("unknown payment: %d", status)
	}

	// Another application's token neither sees nor creates for this application.
	other, _ := e.svc.NewApp(context.Background(), "Other", "")
	otherTok, _, _ := e.svc.NewToken(context.Background(), other.ClientID, []checkout.Scope{checkout.ScopeAll}, "", time.Time{})
	if status, body := e.api(t, "GET", "/api/payment/"+id, otherTok.Reveal(), ""); status != http.StatusNotFound || body["amount"] != nil {
		t.Fatalf("another app's payment: %d %v", status, body)
	}
	if status, body := e.api(t, "POST", "/api/payment/checkout", otherTok.Reveal(), e.createBody("100")); status != http.StatusForbidden || body["message"] != "Insufficient permissions" {
		t.Fatalf("creating for another app's clientId: %d %v", status, body)
	}
}

func TestAPIAuthErrors(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	getOnly, _, _ := e.svc.NewToken(ctx, e.app.ClientID, []checkout.Scope{checkout.ScopePaymentsGet}, "", time.Time{})
	for _, tc := range []struct {
		name, token string
		status      int
		message     string
	}{
		{"no token", "", 401, "Unauthenticated"},
		{"wrong token", e.token + "x", 401, "Unauthenticated"},
		{"garbage", "not-a-token", 401, "Unauthenticated"},
		{"missing scope", getOnly.Reveal(), 403, "Insufficient permissions"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := e.api(t, "POST", "/api/payment/checkout", tc.token, e.createBody("100"))
			if status != tc.status || body["message"] != tc.message {
				t.Fatalf("%d %v, want %d %q", status, body, tc.status, tc.message)
			}
		})
	}
}

func TestAPIBadInput(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name   string
		body   string
		status int
		field  string
	}{
		{"malformed JSON", `{"amount": `, 400, ""},
		{"not an object", `[1,2]`, 400, ""},
		{"trailing data", e.createBody("100") + `{}`, 400, ""},
		{"fractional amount", e.createBody("100.5"), 422, "amount"},
		{"string amount", e.createBody(`"100"`), 422, "amount"},
		{"zero amount", e.createBody("0"), 422, "amount"},
		{"huge amount", e.createBody("1e30"), 422, "amount"},
		{"bad currency", strings.Replace(e.createBody("100"), "USD", "XYZ", 1), 422, "currencyCode"},
		{"no clientId", `{"amount": 100, "currencyCode": "USD", "reference": "R"}`, 422, "clientId"},
		{"bad expiry", strings.Replace(e.createBody("100"), `"clientId"`, `"expiresAt": "tomorrow", "clientId"`, 1), 422, "expiresAt"},
		{"bad success url", strings.Replace(e.createBody("100"), `"clientId"`, `"successUrl": "javascript:x", "clientId"`, 1), 422, "successUrl"},
		{"too large", `{"reference": "` + strings.Repeat("x", 70<<10) + `"}`, 413, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := e.api(t, "POST", "/api/payment/checkout", e.token, tc.body)
			if status != tc.status {
				t.Fatalf("%d %v, want %d", status, body, tc.status)
			}
			if tc.field != "" {
				errs, _ := body["errors"].(map[string]any)
				if errs[tc.field] == nil {
					t.Fatalf("no error on %q: %v", tc.field, body)
				}
			}
		})
	}
	// Nothing above created a payment.
	if n, err := e.store.CountPayments(context.Background()); err != nil || n != 0 {
		t.Fatalf("%d payments exist after only bad requests (%v)", n, err)
	}
}

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// page GETs a browser page and returns its status and body.
func (e *env) page(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := e.client.Get(e.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// submit POSTs the checkout form as a browser would, with the page's CSRF token.
func (e *env) submit(t *testing.T, path string, form url.Values) *http.Response {
	t.Helper()
	_, body := e.page(t, path)
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF field on %s:\n%s", path, body)
	}
	form.Set("csrf_token", m[1])
	req, _ := http.NewRequest("POST", e.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", e.srv.URL)
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func (e *env) newPayment(t *testing.T, amount int64) *checkout.Payment {
	t.Helper()
	p, err := e.svc.CreatePayment(context.Background(), checkout.NewPayment{ClientID: e.app.ClientID, Amount: amount, Currency: "USD",
		Reference: "R-1", ReferenceLabel: "Order <b>1</b>"})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCheckoutPage(t *testing.T) {
	e := newEnv(t)
	p := e.newPayment(t, 6197)
	status, body := e.page(t, "/checkout/"+p.ID)
	if status != 200 {
		t.Fatalf("checkout page: %d", status)
	}
	for _, want := range []string{"$61.97", "Total (USD)", `<input type="radio" name="provider"`, ">Onecheckout</label>", "Pay $61.97</button>",
		"Order &lt;b&gt;1&lt;/b&gt;"} {
		if !strings.Contains(body, want) {
			t.Errorf("checkout page lacks %q", want)
		}
	}
	if strings.Contains(body, "<script") || strings.Count(body, "<h1") != 1 {
		t.Error("the checkout page must have one h1 and no script")
	}
	if status, body := e.page(t, "/checkout/pay_unknown"); status != 404 || !strings.Contains(body, "Payment not found") {
		t.Fatalf("unknown payment page: %d", status)
	}
}

func TestChooseRedirectsToProvider(t *testing.T) {
	e := newEnv(t)
	p := e.newPayment(t, 6197)
	resp := e.submit(t, "/checkout/"+p.ID, url.Values{"provider": {"onecheckout"}})
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, e.srv.URL+"/sandbox/onecheckout/") {
		t.Fatalf("choose answered %d to %q", resp.StatusCode, loc)
	}
	got, _ := e.svc.Payment(context.Background(), p.ID)
	if len(got.Attempts) != 1 || got.Attempts[0].Status != checkout.AttemptPending {
		t.Fatalf("attempts %+v", got.Attempts)
	}
}

func TestChooseWithoutCSRFChangesNothing(t *testing.T) {
	e := newEnv(t)
	p := e.newPayment(t, 6197)
	e.page(t, "/checkout/"+p.ID) // has the cookie, but posts no token
	req, _ := http.NewRequest("POST", e.srv.URL+"/checkout/"+p.ID, strings.NewReader("provider=onecheckout"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("POST without CSRF token: %d", resp.StatusCode)
	}
	// A forged cross-site form with a valid token but a foreign Origin is refused too.
	_, body := e.page(t, "/checkout/"+p.ID)
	tok := csrfField.FindStringSubmatch(body)[1]
	req, _ = http.NewRequest("POST", e.srv.URL+"/checkout/"+p.ID, strings.NewReader("provider=onecheckout&csrf_token="+url.QueryEscape(tok)))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	resp, _ = e.client.Do(req)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("POST from a foreign origin: %d", resp.StatusCode)
	}
	if got, _ := e.svc.Payment(context.Background(), p.ID); len(got.Attempts) != 0 {
		t.Fatal("a refused form created an attempt")
	}
}

func TestChooseUnknownProvider(t *testing.T) {
	e := newEnv(t)
	p := e.newPayment(t, 6197)
	resp := e.submit(t, "/checkout/"+p.ID, url.Values{"provider": {"paypal"}})
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(b), "Choose one of the offered ways to pay") {
		t.Fatalf("unknown provider: %d", resp.StatusCode)
	}
}

func TestProviderDownKeepsPaymentOpen(t *testing.T) {
	e := newEnv(t)
	p := e.newPayment(t, 500_00) // the sandbox's magic amount for a 5xx on create
	resp := e.submit(t, "/checkout/"+p.ID, url.Values{"provider": {"onecheckout"}})
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(b), "Onecheckout is not available right now") {
		t.Fatalf("provider down: %d\n%s", resp.StatusCode, b)
	}
	if !strings.Contains(string(b), "Pay $500.00</button>") {
		t.Fatal("the shopper must be able to choose again")
	}
	// A 5xx may come after the provider acted: the attempt stays live and is looked up,
	// never failed on a guess.
	got, _ := e.svc.Payment(context.Background(), p.ID)
	if got.Status != checkout.PaymentOpen || got.Attempts[0].Status != checkout.AttemptPending || got.Attempts[0].ProviderRef != "" {
		t.Fatalf("payment %s, attempt %s", got.Status, got.Attempts[0].Status)
	}
}

func TestExpiredPaymentPage(t *testing.T) {
	e := newEnv(t)
	p := e.newPayment(t, 6197)
	e.svc.Now = func() time.Time { return time.Now().Add(48 * time.Hour) }
	status, body := e.page(t, "/checkout/"+p.ID)
	if status != http.StatusGone || !strings.Contains(body, "This payment has expired") || strings.Contains(body, "name=\"provider\"") {
		t.Fatalf("expired payment: %d\n%s", status, body)
	}
}

func TestForgedReturnNeverPays(t *testing.T) {
	e := newEnv(t)
	p := e.newPayment(t, 6197)
	e.submit(t, "/checkout/"+p.ID, url.Values{"provider": {"onecheckout"}}).Body.Close()
	got, _ := e.svc.Payment(context.Background(), p.ID)
	a := got.Attempts[0]
	status, _ := e.page(t, "/checkout/"+p.ID+"/return/"+a.ID+"?outcome=return&payment_id="+a.ProviderRef+"&status=PAID")
	if status != http.StatusSeeOther {
		t.Fatalf("return answered %d", status)
	}
	status, body := e.page(t, "/checkout/"+p.ID+"/attempts/"+a.ID)
	if status != 200 || !strings.Contains(body, "Confirming your payment") || strings.Contains(body, "Thank you") {
		t.Fatalf("after a forged return: %d\n%s", status, body)
	}
	if got, _ := e.svc.Payment(context.Background(), p.ID); got.Status != checkout.PaymentOpen {
		t.Fatalf("payment %s after a forged return", got.Status)
	}
	// Another payment's attempt id is not found on this payment.
	other := e.newPayment(t, 100)
	if status, _ := e.page(t, "/checkout/"+other.ID+"/return/"+a.ID); status != http.StatusNotFound {
		t.Fatalf("cross-payment return: %d", status)
	}
}

func TestCallbacks(t *testing.T) {
	e := newEnv(t)
	resp, _ := http.Post(e.srv.URL+"/callbacks/paypal", "application/json", strings.NewReader(`{}`))
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("callback for an unknown provider: %d", resp.StatusCode)
	}
	// Onecheckout documents no callbacks, so Kassa exposes none for it.
	resp, _ = http.Post(e.srv.URL+"/callbacks/onecheckout", "application/json", strings.NewReader(`{}`))
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("callback for a provider without callbacks: %d", resp.StatusCode)
	}
}

func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t)
	resp, err := http.Get(e.srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for h, want := range map[string]string{"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("CSP %q", csp)
	}
	if resp.Header.Get("X-Request-Id") == "" {
		t.Error("no request id")
	}
}

func TestIdempotencyKey(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	body := e.createBody("2500")
	status, first := e.api(t, "POST", "/api/payment/checkout", e.token, body, "Idempotency-Key", "order-42")
	if status != http.StatusCreated {
		t.Fatalf("first: %d %v", status, first)
	}
	status, again := e.api(t, "POST", "/api/payment/checkout", e.token, body, "Idempotency-Key", "order-42")
	if status != http.StatusCreated || again["id"] != first["id"] {
		t.Fatalf("replay: %d %v, want the first answer %v", status, again["id"], first["id"])
	}
	status, conflict := e.api(t, "POST", "/api/payment/checkout", e.token, e.createBody("2600"), "Idempotency-Key", "order-42")
	if status != http.StatusConflict {
		t.Fatalf("same key, other body: %d %v", status, conflict)
	}
	// A failed request is not stored: fixing the body and retrying with the key runs it.
	if status, _ := e.api(t, "POST", "/api/payment/checkout", e.token, e.createBody("0"), "Idempotency-Key", "k-bad"); status != 422 {
		t.Fatalf("invalid body: %d", status)
	}
	if status, _ := e.api(t, "POST", "/api/payment/checkout", e.token, e.createBody("0"), "Idempotency-Key", "k-bad"); status != 422 {
		t.Fatalf("invalid body again: %d", status)
	}
	// Keys are per application: another application's identical key is its own.
	other, _ := e.svc.NewApp(ctx, "Other", "")
	otherTok, _, _ := e.svc.NewToken(ctx, other.ClientID, []checkout.Scope{checkout.ScopeAll}, "", time.Time{})
	otherBody := strings.Replace(body, e.app.ClientID, other.ClientID, 1)
	if status, got := e.api(t, "POST", "/api/payment/checkout", otherTok.Reveal(), otherBody, "Idempotency-Key", "order-42"); status != 201 || got["id"] == first["id"] {
		t.Fatalf("another app's key: %d %v", status, got["id"])
	}
	if n, _ := e.store.CountPayments(ctx); n != 2 {
		t.Fatalf("%d payments, want 2", n)
	}
}

func TestIdempotencyKeyUnderConcurrency(t *testing.T) {
	e := newEnv(t)
	body := e.createBody("2500")
	const n = 16
	statuses := make(chan int, n)
	ids := make(chan string, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, got := e.api(t, "POST", "/api/payment/checkout", e.token, body, "Idempotency-Key", "same-key")
			statuses <- status
			if id, ok := got["id"].(string); ok {
				ids <- id
			}
		}()
	}
	wg.Wait()
	close(statuses)
	close(ids)
	seen := map[string]bool{}
	for id := range ids {
		seen[id] = true
	}
	for s := range statuses {
		if s != http.StatusCreated && s != http.StatusConflict {
			t.Errorf("concurrent request answered %d", s)
		}
	}
	if count, _ := e.store.CountPayments(context.Background()); count != 1 || len(seen) != 1 {
		t.Fatalf("%d payments and %d distinct ids from %d concurrent requests with one key, want 1", count, len(seen), n)
	}
}

func TestEventsAndCancel(t *testing.T) {
	e := newEnv(t)
	_, created := e.api(t, "POST", "/api/payment/checkout", e.token, e.createBody("2500"))
	id := created["id"].(string)
	status, got := e.api(t, "POST", "/api/payment/"+id+"/cancel", e.token, "")
	if status != 200 || got["status"] != "cancelled" {
		t.Fatalf("cancel: %d %v", status, got)
	}
	if status, _ := e.api(t, "POST", "/api/payment/"+id+"/cancel", e.token, ""); status != http.StatusConflict {
		t.Fatalf("second cancel: %d", status)
	}
	status, evs := e.api(t, "GET", "/api/payment/"+id+"/events", e.token, "")
	list, _ := evs["events"].([]any)
	if status != 200 || len(list) != 2 || list[0].(map[string]any)["type"] != "payment.created" || list[1].(map[string]any)["type"] != "payment.cancelled" {
		t.Fatalf("events: %d %v", status, evs)
	}
	if status, body := e.page(t, "/checkout/"+id); status != http.StatusGone || !strings.Contains(body, "cancelled") {
		t.Fatalf("checkout page of a cancelled payment: %d", status)
	}
	if status, _ := e.api(t, "POST", "/api/payment/pay_nope/cancel", e.token, ""); status != 404 {
		t.Fatalf("cancel unknown: %d", status)
	}
}

func TestRateLimitPerToken(t *testing.T) {
	t.Run("in memory", func(t *testing.T) { testRateLimitPerToken(t, false) })
	t.Run("in the database", func(t *testing.T) { testRateLimitPerToken(t, true) })
}

func testRateLimitPerToken(t *testing.T, shared bool) {
	e := newEnv(t)
	now := time.Date(2026, 11, 21, 12, 0, 10, 0, time.UTC)
	rl := handlers.NewRateLimiter(3)
	rl.Now = func() time.Time { return now }
	if shared {
		rl.Counter = e.store
	}
	e.server.RateLimit = rl
	get := func(token string) *http.Response {
		req, _ := http.NewRequest("GET", e.srv.URL+"/api/payment/pay_x", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for i := range 3 {
		resp := get(e.token)
		if resp.StatusCode != 404 || resp.Header.Get("X-RateLimit-Remaining") != strconv.Itoa(2-i) || resp.Header.Get("X-RateLimit-Limit") != "3" {
			t.Fatalf("request %d: %d, remaining %q", i, resp.StatusCode, resp.Header.Get("X-RateLimit-Remaining"))
		}
	}
	resp := get(e.token)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "51" ||
		resp.Header.Get("X-RateLimit-Reset") != strconv.FormatInt(now.Truncate(time.Minute).Add(time.Minute).Unix(), 10) {
		t.Fatalf("fourth request: %d, Retry-After %q, reset %q", resp.StatusCode, resp.Header.Get("Retry-After"), resp.Header.Get("X-RateLimit-Reset"))
	}
	// Another token has its own budget, and the window resets.
	other, _, _ := e.svc.NewToken(context.Background(), e.app.ClientID, []checkout.Scope{checkout.ScopeAll}, "", time.Time{})
	if resp := get(other.Reveal()); resp.StatusCode != 404 {
		t.Fatalf("another token: %d", resp.StatusCode)
	}
	now = now.Add(time.Minute)
	if resp := get(e.token); resp.StatusCode != 404 {
		t.Fatalf("next window: %d", resp.StatusCode)
	}
}

func TestInstructions(t *testing.T) {
	e := newEnv(t)
	_, created := e.api(t, "POST", "/api/payment/checkout", e.token, e.createBody("2500"))
	id := created["id"].(string)
	status, got := e.api(t, "GET", "/api/payment/"+id+"/instructions?provider=onecheckout", e.token, "")
	if status != 200 || got["type"] != "redirect" || !strings.HasPrefix(got["payUrl"].(string), e.srv.URL+"/sandbox/onecheckout/") {
		t.Fatalf("instructions: %d %v", status, got)
	}
	// Asking again reuses the provider order.
	_, again := e.api(t, "GET", "/api/payment/"+id+"/instructions?provider=onecheckout", e.token, "")
	if again["attemptId"] != got["attemptId"] || again["payUrl"] != got["payUrl"] {
		t.Fatalf("second call made a new order: %v vs %v", again["attemptId"], got["attemptId"])
	}
	if status, _ := e.api(t, "GET", "/api/payment/"+id+"/instructions?provider=nope", e.token, ""); status != 422 {
		t.Fatalf("unknown provider: %d", status)
	}
	if status, _ := e.api(t, "GET", "/api/payment/"+id+"/instructions", e.token, ""); status != 422 {
		t.Fatalf("no provider: %d", status)
	}
	getOnly, _, _ := e.svc.NewToken(context.Background(), e.app.ClientID, []checkout.Scope{checkout.ScopePaymentsGet}, "", time.Time{})
	if status, _ := e.api(t, "GET", "/api/payment/"+id+"/instructions?provider=onecheckout", getOnly.Reveal(), ""); status != 403 {
		t.Fatalf("without the instructions scope: %d", status)
	}
	if p, _ := e.svc.Payment(context.Background(), id); len(p.Attempts) != 1 {
		t.Fatalf("%d attempts, want 1", len(p.Attempts))
	}
}

// dashboardToken creates OAuth2 client credentials and exchanges them for an access token.
func (e *env) dashboardToken(t *testing.T) string {
	t.Helper()
	client, secret, err := e.svc.NewOAuthClient(context.Background(), "ops")
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{"grant_type": {"client_credentials"}}
	req, _ := http.NewRequest("POST", e.srv.URL+"/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(client.ID, secret.Reveal())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok map[string]any
	json.NewDecoder(resp.Body).Decode(&tok)
	if resp.StatusCode != 200 || tok["token_type"] != "Bearer" || tok["expires_in"] != float64(3600) || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("token endpoint: %d %v", resp.StatusCode, tok)
	}
	return tok["access_token"].(string)
}

func TestOAuthTokenEndpoint(t *testing.T) {
	e := newEnv(t)
	client, secret, _ := e.svc.NewOAuthClient(context.Background(), "ops")
	post := func(form url.Values, basicID, basicSecret string) (int, map[string]any) {
		req, _ := http.NewRequest("POST", e.srv.URL+"/oauth/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if basicID != "" {
			req.SetBasicAuth(basicID, basicSecret)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	grant := url.Values{"grant_type": {"client_credentials"}}
	if status, out := post(url.Values{"grant_type": {"client_credentials"}, "client_id": {client.ID}, "client_secret": {secret.Reveal()}}, "", ""); status != 200 || out["access_token"] == nil {
		t.Fatalf("client_secret_post: %d %v", status, out)
	}
	for _, tc := range []struct {
		name       string
		form       url.Values
		id, secret string
		status     int
		errorCode  string
	}{
		{"wrong secret", grant, client.ID, "nope", 401, "invalid_client"},
		{"unknown client", grant, "koc_0000000000000000", "nope", 401, "invalid_client"},
		{"no credentials", grant, "", "", 401, "invalid_client"},
		{"password grant", url.Values{"grant_type": {"password"}}, client.ID, secret.Reveal(), 400, "unsupported_grant_type"},
		{"no grant", url.Values{}, client.ID, secret.Reveal(), 400, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, out := post(tc.form, tc.id, tc.secret)
			if status != tc.status || out["error"] != tc.errorCode {
				t.Fatalf("%d %v, want %d %s", status, out, tc.status, tc.errorCode)
			}
		})
	}
	// Access tokens and client tokens are not interchangeable.
	access := e.dashboardToken(t)
	if status, _ := e.api(t, "POST", "/api/payment/checkout", access, e.createBody("100")); status != 401 {
		t.Fatalf("an access token on the payments API: %d", status)
	}
	if status, _ := e.api(t, "GET", "/api/payment-applications", e.token, ""); status != 401 {
		t.Fatalf("a client token on the dashboard API: %d", status)
	}
	e.svc.Now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	if status, _ := e.api(t, "GET", "/api/payment-applications", access, ""); status != 401 {
		t.Fatalf("an expired access token: %d", status)
	}
}

func TestDashboardApplicationsAndTokens(t *testing.T) {
	e := newEnv(t)
	access := e.dashboardToken(t)
	status, created := e.api(t, "POST", "/api/payment-applications", access, `{"name": "Second shop", "webhookUrl": "https://s.example/hook", "accentColor": "#112233"}`)
	if status != 201 || len(created["clientId"].(string)) != 32 || !strings.HasPrefix(created["webhookSecret"].(string), "whsec_") || created["accentColor"] != "#112233" {
		t.Fatalf("create app: %d %v", status, created)
	}
	id := created["clientId"].(string)
	if status, _ := e.api(t, "POST", "/api/payment-applications", access, `{"name": ""}`); status != 422 {
		t.Fatalf("create app without a name: %d", status)
	}
	if status, _ := e.api(t, "POST", "/api/payment-applications", access, `{"name": "X", "accentColor": "red"}`); status != 422 {
		t.Fatalf("create app with a bad colour: %d", status)
	}
	status, list := e.api(t, "GET", "/api/payment-applications", access, "")
	if data, _ := list["data"].([]any); status != 200 || len(data) != 2 || strings.Contains(fmt.Sprint(list), "whsec_") {
		t.Fatalf("list apps: %d %v", status, list)
	}
	status, patched := e.api(t, "PATCH", "/api/payment-applications/"+id, access, `{"displayName": "Second Shop Ltd", "logoUrl": "https://s.example/logo.png"}`)
	if status != 200 || patched["displayName"] != "Second Shop Ltd" || patched["name"] != "Second shop" || patched["accentColor"] != "#112233" {
		t.Fatalf("patch: %d %v", status, patched)
	}
	if status, _ := e.api(t, "PATCH", "/api/payment-applications/"+id, access, `{"logoUrl": "http://insecure.example/logo.png"}`); status != 422 {
		t.Fatalf("patch with an http logo: %d", status)
	}
	if status, _ := e.api(t, "PATCH", "/api/payment-applications/nope", access, `{}`); status != 404 {
		t.Fatalf("patch unknown app: %d", status)
	}
	status, rotated := e.api(t, "POST", "/api/payment-applications/"+id+"/rotate-webhook-secret", access, "")
	if status != 200 || rotated["webhookSecret"] == created["webhookSecret"] {
		t.Fatalf("rotate: %d %v", status, rotated)
	}

	status, tok := e.api(t, "POST", "/api/payment-applications/"+id+"/tokens", access, `{"scopes": ["payments.create"], "label": "server"}`)
	if status != 201 || !strings.HasPrefix(tok["token"].(string), "kct_") {
		t.Fatalf("create token: %d %v", status, tok)
	}
	clientToken := tok["token"].(string)
	body := strings.Replace(e.createBody("100"), e.app.ClientID, id, 1)
	if status, _ := e.api(t, "POST", "/api/payment/checkout", clientToken, body); status != 201 {
		t.Fatalf("the new token cannot create: %d", status)
	}
	if status, _ := e.api(t, "POST", "/api/payment-applications/"+id+"/tokens", access, `{"scopes": ["payments.everything"]}`); status != 422 {
		t.Fatalf("unknown scope: %d", status)
	}
	status, toks := e.api(t, "GET", "/api/payment-applications/"+id+"/tokens", access, "")
	if data, _ := toks["data"].([]any); status != 200 || len(data) != 1 || strings.Contains(fmt.Sprint(toks), clientToken) {
		t.Fatalf("list tokens: %d %v", status, toks)
	}
	// Revoking through another application's path is refused; through its own, it works.
	req, _ := http.NewRequest("DELETE", e.srv.URL+"/api/payment-applications/"+e.app.ClientID+"/tokens/"+tok["id"].(string), nil)
	req.Header.Set("Authorization", "Bearer "+access)
	resp, _ := http.DefaultClient.Do(req)
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("revoke via another app: %d", resp.StatusCode)
	}
	req, _ = http.NewRequest("DELETE", e.srv.URL+"/api/payment-applications/"+id+"/tokens/"+tok["id"].(string), nil)
	req.Header.Set("Authorization", "Bearer "+access)
	resp, _ = http.DefaultClient.Do(req)
	resp.Body.Close()
	if resp.StatusCode != 204 {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	if status, _ := e.api(t, "POST", "/api/payment/checkout", clientToken, body); status != 401 {
		t.Fatalf("a revoked token still creates: %d", status)
	}
}

func TestListPaymentsPagination(t *testing.T) {
	e := newEnv(t)
	access := e.dashboardToken(t)
	clock := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	e.svc.Now = func() time.Time { clock = clock.Add(time.Second); return clock }
	var lastCreated string
	create := func() string {
		_, p := e.api(t, "POST", "/api/payment/checkout", e.token, e.createBody("100"))
		lastCreated = p["createdAt"].(string)
		return p["id"].(string)
	}
	var ids []string // oldest first
	for range 5 {
		ids = append(ids, create())
	}
	page := func(query string) ([]string, string, float64) {
		status, out := e.api(t, "GET", "/api/payments?"+query, access, "")
		if status != 200 {
			t.Fatalf("list %s: %d %v", query, status, out)
		}
		var got []string
		for _, p := range out["payments"].([]any) {
			got = append(got, p.(map[string]any)["id"].(string))
		}
		return got, out["next_anchor"].(string), out["count"].(float64)
	}
	p1, next, count := page("limit=2")
	if fmt.Sprint(p1) != fmt.Sprint([]string{ids[4], ids[3]}) || next != ids[2] || count != 5 {
		t.Fatalf("page 1: %v next %q count %v", p1, next, count)
	}
	// New payments arrive between pages: they go to the top, and the pages that follow
	// neither repeat nor skip a payment.
	create()
	newFrom := lastCreated
	create()
	p2, next, _ := page("limit=2&anchor=" + next)
	p3, last, _ := page("limit=2&anchor=" + next)
	if fmt.Sprint(p2) != fmt.Sprint([]string{ids[2], ids[1]}) || fmt.Sprint(p3) != fmt.Sprint([]string{ids[0]}) || last != "" {
		t.Fatalf("pages 2 and 3: %v %v, last anchor %q", p2, p3, last)
	}
	e.api(t, "POST", "/api/payment/"+ids[0]+"/cancel", e.token, "")
	if got, _, count := page("status=cancelled"); len(got) != 1 || got[0] != ids[0] || count != 1 {
		t.Fatalf("status filter: %v %v", got, count)
	}
	if got, _, _ := page("clientId=" + e.app.ClientID + "&created_from=" + url.QueryEscape(newFrom)); len(got) != 2 {
		t.Fatalf("time filter: %v", got)
	}
	for _, bad := range []string{"limit=0", "limit=1025", "limit=x", "status=lost", "anchor=pay_nope", "created_to=yesterday"} {
		if status, _ := e.api(t, "GET", "/api/payments?"+bad, access, ""); status != 422 {
			t.Errorf("list ?%s: %d, want 422", bad, status)
		}
	}
}

func TestCheckoutPageBranding(t *testing.T) {
	e := newEnv(t)
	name, accent, logo := "Zomba Crafts", "#aa3300", "https://zomba.example/logo.png"
	if _, err := e.svc.UpdateApp(context.Background(), e.app.ClientID, checkout.AppPatch{DisplayName: &name, AccentColor: &accent, LogoURL: &logo}); err != nil {
		t.Fatal(err)
	}
	p := e.newPayment(t, 100)
	_, body := e.page(t, "/checkout/"+p.ID)
	css := "/brand/" + e.app.ClientID + ".css"
	if !strings.Contains(body, ">Zomba Crafts</span>") || !strings.Contains(body, `src="`+logo+`"`) || !strings.Contains(body, css) {
		t.Fatalf("checkout page is not branded:\n%s", body)
	}
	if status, sheet := e.page(t, css); status != 200 || !strings.Contains(sheet, "--accent:#aa3300") {
		t.Fatalf("brand stylesheet: %d %q", status, sheet)
	}
	if status, _ := e.page(t, "/brand/nope.css"); status != 404 {
		t.Fatalf("unknown brand stylesheet: %d", status)
	}
}

func TestInstructionsEdgeCases(t *testing.T) {
	e := newEnv(t)
	_, created := e.api(t, "POST", "/api/payment/checkout", e.token, e.createBody("2500"))
	id := created["id"].(string)
	// A method a provider does not have is ignored, and the order is reused.
	_, first := e.api(t, "GET", "/api/payment/"+id+"/instructions?provider=onecheckout&method=card", e.token, "")
	_, second := e.api(t, "GET", "/api/payment/"+id+"/instructions?provider=onecheckout&method=card", e.token, "")
	if first["attemptId"] == nil || first["attemptId"] != second["attemptId"] {
		t.Fatalf("repeated instructions made two orders: %v %v", first["attemptId"], second["attemptId"])
	}
	e.api(t, "POST", "/api/payment/"+id+"/cancel", e.token, "")
	if status, _ := e.api(t, "GET", "/api/payment/"+id+"/instructions?provider=onecheckout", e.token, ""); status != http.StatusConflict {
		t.Fatalf("instructions for a cancelled payment: %d", status)
	}
	if status, body := e.api(t, "DELETE", "/api/payment/checkout", e.token, ""); status != http.StatusMethodNotAllowed || body["code"] != "method_not_allowed" {
		t.Fatalf("wrong method on the API: %d %v", status, body)
	}
}

// TestProviderCallbackAlonePays walks the path of a shopper who pays at EnKash and never comes
// back (closed tab, lost network): the provider's notifyUrl callback alone, verified by a
// fetch, makes the payment paid, exactly once however often it is delivered.
func TestProviderCallbackAlonePays(t *testing.T) {
	e := newEnvWith(t, true)
	ctx := context.Background()
	p, err := e.svc.CreatePayment(ctx, checkout.NewPayment{ClientID: e.app.ClientID, Amount: 199900, Currency: "INR", Reference: "R-INR"})
	if err != nil {
		t.Fatal(err)
	}
	a, err := e.svc.StartAttempt(ctx, p.ID, checkout.Choice{Provider: providers.EnKash})
	if err != nil {
		t.Fatal(err)
	}
	// Pay on the provider's page without following its redirect back to Kassa.
	if _, err := (providertest.FormShopper{}).Complete(ctx, providers.Session{PayURL: a.PayURL}, providertest.Pay); err != nil {
		t.Fatal(err)
	}
	// The sandbox delivers the callback in the background; wait for it, bounded.
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, _ := e.svc.Payment(ctx, p.ID)
		if got.Status == checkout.PaymentPaid {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("payment %s 10 s after paying: the callback did not converge it", got.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A replayed or forged callback body changes nothing more.
	body := `{"orderId": "` + a.ProviderRef + `", "status": "SUCCESS", "orderStatus": "PAID"}`
	for range 3 {
		resp, err := http.Post(e.srv.URL+"/callbacks/enkash", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("replayed callback: %d", resp.StatusCode)
		}
	}
	evs, _ := e.svc.Events(ctx, p.ID)
	paid := 0
	for _, ev := range evs {
		if ev.Type == checkout.EventPaymentPaid {
			paid++
		}
	}
	if paid != 1 {
		t.Fatalf("%d payment.paid events, want 1", paid)
	}
	// A callback claiming success for an unpaid order is only a hint.
	p2, _ := e.svc.CreatePayment(ctx, checkout.NewPayment{ClientID: e.app.ClientID, Amount: 100, Currency: "INR", Reference: "R-2"})
	a2, _ := e.svc.StartAttempt(ctx, p2.ID, checkout.Choice{Provider: providers.EnKash})
	resp, _ := http.Post(e.srv.URL+"/callbacks/enkash", "application/json",
		strings.NewReader(`{"orderId": "`+a2.ProviderRef+`", "status": "SUCCESS", "orderStatus": "PAID", "transactionStatus": "SUCCESS"}`))
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("forged callback: %d", resp.StatusCode)
	}
	if got, _ := e.svc.Payment(ctx, p2.ID); got.Status != checkout.PaymentOpen {
		t.Fatalf("a forged callback made the payment %s", got.Status)
	}
	if resp, _ := http.Post(e.srv.URL+"/callbacks/enkash", "application/json", strings.NewReader(`not json`)); resp.StatusCode != 400 {
		t.Fatalf("malformed callback: %d", resp.StatusCode)
	}
}

// TestDoubleSubmitLosesNothing walks a double click on the Pay button: both submits share one
// provider order (one live order per payment, provider and method), the shopper pays it, and
// the payment is paid once.
func TestDoubleSubmitLosesNothing(t *testing.T) {
	e := newEnv(t)
	p := e.newPayment(t, 6197)
	first := e.submit(t, "/checkout/"+p.ID, url.Values{"provider": {"onecheckout"}})
	first.Body.Close()
	second := e.submit(t, "/checkout/"+p.ID, url.Values{"provider": {"onecheckout"}})
	second.Body.Close()
	if first.StatusCode != 303 || second.StatusCode != 303 || first.Header.Get("Location") != second.Header.Get("Location") {
		t.Fatalf("double submit: %d %s, %d %s: want one shared provider order", first.StatusCode, first.Header.Get("Location"),
			second.StatusCode, second.Header.Get("Location"))
	}
	back, err := (providertest.FormShopper{}).Complete(context.Background(), providers.Session{PayURL: first.Header.Get("Location")}, providertest.Pay)
	if err != nil {
		t.Fatal(err)
	}
	if status, _ := e.page(t, strings.TrimPrefix(back.String(), e.srv.URL)); status != 303 {
		t.Fatalf("return: %d", status)
	}
	status, body := e.page(t, "/checkout/"+p.ID)
	if status != 200 || !strings.Contains(body, "Thank you") {
		t.Fatalf("after paying: %d", status)
	}
	got, _ := e.svc.Payment(context.Background(), p.ID)
	if got.Status != checkout.PaymentPaid || len(got.Attempts) != 1 || got.Attempts[0].Status != checkout.AttemptPaid {
		t.Fatalf("payment %s, attempts %+v", got.Status, got.Attempts)
	}
}
