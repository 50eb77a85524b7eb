package onekhusa_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kassa-pay/kassa/providers"
	"github.com/kassa-pay/kassa/providers/onekhusa"
	"github.com/kassa-pay/kassa/providers/onekhusa/sandbox"
	"github.com/kassa-pay/kassa/providers/providertest"
)

// The client's timeout is well under the sandbox's slow delay, and generous enough that an
// ordinary call on a busy machine never reaches it.
const (
	clientTimeout = 2 * time.Second
	slowDelay     = 6 * time.Second
)

// env is one sandbox behind an httptest server, with the adapter pointed at it.
type env struct {
	srv  *sandbox.Server
	http *httptest.Server
	cfg  onekhusa.Config
	p    *onekhusa.Provider
	// tokenCalls counts POST /v1/account/getAccessToken.
	tokenCalls atomic.Int64
}

func newEnv(t *testing.T, sc sandbox.Config) *env {
	t.Helper()
	if sc.SlowDelay == 0 {
		sc.SlowDelay = slowDelay
	}
	e := &env{srv: sandbox.New(sc)}
	e.http = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/account/getAccessToken" {
			e.tokenCalls.Add(1)
		}
		e.srv.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		e.http.Close()
		e.srv.Close()
	})
	e.cfg = configFor(e.http.URL, sandbox.DefaultCredentials())
	e.p = onekhusa.New(e.cfg)
	return e
}

func configFor(serverURL string, c sandbox.Credentials) onekhusa.Config {
	return onekhusa.Config{
		BaseURL:               serverURL + "/v1",
		APIKey:                onekhusa.Secret(c.APIKey),
		APISecret:             onekhusa.Secret(c.APISecret),
		OrganisationID:        c.OrganisationID,
		MerchantAccountNumber: c.MerchantAccountNumber,
		CapturedBy:            c.CapturedBy,
		Timeout:               clientTimeout,
	}
}

func (e *env) harness(t *testing.T) providertest.Harness {
	bad := e.cfg
	bad.APISecret = "not-the-sandbox-secret-at-all-not-the-sandbox"
	return providertest.Harness{
		Provider:             e.p,
		BadCredentials:       onekhusa.New(bad),
		Currency:             "MWK",
		ConversionCurrencies: []string{"MWK"},
		ExpireOrder:          func(t *testing.T, ref string) { e.srv.ExpireOrder(ref) },
		ExpireTokens:         func(t *testing.T) { e.srv.ExpireTokens() },
	}
}

// TestConformanceCheckout runs the suite through the hosted checkout page, against both shapes
// getTransaction is documented to answer.
func TestConformanceCheckout(t *testing.T) {
	for _, flat := range []bool{false, true} {
		t.Run(fmt.Sprintf("flat=%v", flat), func(t *testing.T) {
			e := newEnv(t, sandbox.Config{FlatTransactions: flat})
			h := e.harness(t)
			h.CancelGoesToCancelURL = true // decline and cancel both go to the failure URL
			providertest.Run(t, h)
		})
	}
}

// pushShopper answers a push on the simulated phone through the sandbox's hooks; it never
// sees a browser, so it returns no URL.
type pushShopper struct{ srv *sandbox.Server }

func (s pushShopper) Complete(_ context.Context, sess providers.Session, a providertest.Action) (*url.URL, error) {
	if sess.PayURL != "" {
		return nil, fmt.Errorf("push session has a pay URL %q", sess.PayURL)
	}
	switch a {
	case providertest.Pay:
		return nil, s.srv.ApprovePush(sess.ProviderRef)
	case providertest.Decline:
		return nil, s.srv.DeclinePush(sess.ProviderRef)
	case providertest.Cancel:
		return nil, s.srv.CancelPush(sess.ProviderRef)
	}
	return nil, fmt.Errorf("unknown action %q", a)
}

// TestConformancePush runs the suite with mobile-money pushes, one run per network.
func TestConformancePush(t *testing.T) {
	for _, c := range []struct{ method, phone string }{
		{onekhusa.MethodAirtel, "0999123456"},
		{onekhusa.MethodMpamba, "+265 888 123 456"},
	} {
		t.Run(c.method, func(t *testing.T) {
			e := newEnv(t, sandbox.Config{})
			h := e.harness(t)
			h.Method = c.method
			h.Payer = providers.Payer{Phone: c.phone}
			h.Shopper = pushShopper{e.srv}
			providertest.Run(t, h)
		})
	}
}

func order(ref string, amount int64) providers.Order {
	return providers.Order{
		Reference:   ref,
		Description: "Test order " + ref,
		Amount:      amount,
		Currency:    "MWK",
		ReturnURL:   "https://kassa.test/return/" + ref + "?k=1",
		CancelURL:   "https://kassa.test/cancel/" + ref + "?k=1",
	}
}

// TestCreateIsIdempotent checks a retried CreateOrder reuses its idempotency key and gets the
// same transaction, for both ways to pay.
func TestCreateIsIdempotent(t *testing.T) {
	e := newEnv(t, sandbox.Config{})
	ctx := context.Background()
	for _, o := range []providers.Order{
		order("idem-checkout-000001", 1234),
		func() providers.Order {
			o := order("idem-push-000001", 1234)
			o.Method, o.Payer.Phone = onekhusa.MethodAirtel, "0991234567"
			return o
		}(),
	} {
		a, err := e.p.CreateOrder(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		b, err := e.p.CreateOrder(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		if a != b {
			t.Fatalf("retry gave %+v, first call %+v", b, a)
		}
	}
}

// TestIdempotencyKeyRules checks the sandbox enforces the documented key rules and the client
// surfaces a reused key as a conflict.
func TestIdempotencyKeyRules(t *testing.T) {
	e := newEnv(t, sandbox.Config{})
	ctx := context.Background()
	c := e.p.Client()
	req := onekhusa.CheckoutRequest{
		Payment: onekhusa.CheckoutPayment{MerchantAccountNumber: e.cfg.MerchantAccountNumber, Amount: "10.00",
			Description: "x", SourceReferenceNumber: "ref-1", CapturedBy: e.cfg.CapturedBy},
		Route: onekhusa.CheckoutRoute{SuccessRedirectionURL: "https://kassa.test/ok", FailureRedirectionURL: "https://kassa.test/ko"},
	}
	for _, key := range []string{"", "too-short", "has_underscore_in_it", strings.Repeat("k", 81)} {
		_, err := c.InitiateCheckout(ctx, key, req)
		if !errors.Is(err, providers.ErrInvalid) {
			t.Errorf("key %q: %v, want ErrInvalid", key, err)
		}
	}
	const key = "12345678-same-key-0001"
	first, err := c.InitiateCheckout(ctx, key, req)
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.InitiateCheckout(ctx, key, req)
	if err != nil || again != first {
		t.Fatalf("same key, same body: %+v, %v; want %+v", again, err, first)
	}
	req.Payment.Amount = "11.00"
	_, err = c.InitiateCheckout(ctx, key, req)
	if !errors.Is(err, providers.ErrConflict) {
		t.Fatalf("same key, other body: %v, want ErrConflict", err)
	}
}

// TestTokenExpiresOnTheSandboxClock checks a token the sandbox let expire is renewed exactly
// once, transparently, although the client still thinks it is fresh.
func TestTokenExpiresOnTheSandboxClock(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	e := newEnv(t, sandbox.Config{Now: clock, TokenLifetime: time.Hour, CheckoutLifetime: 2 * time.Hour})
	ctx := context.Background()
	s, err := e.p.CreateOrder(ctx, order("tok-clock-000000001", 5000))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.p.FetchOrder(ctx, providers.Lookup{ProviderRef: s.ProviderRef}); err != nil {
		t.Fatal(err)
	}
	if n := e.tokenCalls.Load(); n != 1 {
		t.Fatalf("%d token requests for two calls, want 1 (the token is cached)", n)
	}
	mu.Lock()
	now = now.Add(61 * time.Minute)
	mu.Unlock()
	r, err := e.p.FetchOrder(ctx, providers.Lookup{ProviderRef: s.ProviderRef})
	if err != nil {
		t.Fatalf("fetch after the token expired: %v", err)
	}
	if r.Status != providers.StatusPending {
		t.Fatalf("status %q", r.Status)
	}
	if n := e.tokenCalls.Load(); n != 2 {
		t.Fatalf("%d token requests, want 2 (one renewal after the 401)", n)
	}
}

// TestRateLimited checks the sandbox's documented 50/s limit reaches Kassa as ErrRateLimited
// with a wait taken from X-RateLimit-Reset.
func TestRateLimited(t *testing.T) {
	fixed := time.Now()
	e := newEnv(t, sandbox.Config{Now: func() time.Time { return fixed }, RequestsPerSecond: 2})
	cfg := e.cfg
	cfg.RequestsPerSecond = 1000 // let the client outrun the sandbox
	p := onekhusa.New(cfg)
	ctx := context.Background()
	var err error
	for i := 0; i < 3 && err == nil; i++ {
		_, err = p.FetchOrder(ctx, providers.Lookup{ProviderRef: "B250713MGRTW"})
		if errors.Is(err, providers.ErrNotFound) {
			err = nil
		}
	}
	var pe *providers.Error
	if !errors.Is(err, providers.ErrRateLimited) || !errors.As(err, &pe) {
		t.Fatalf("third call in one second: %v, want ErrRateLimited", err)
	}
	if pe.RetryAfter <= 0 || pe.RetryAfter > time.Hour {
		t.Fatalf("RetryAfter %v", pe.RetryAfter)
	}
}

// TestPushValidation checks a push is refused before any call when the phone is unusable.
func TestPushValidation(t *testing.T) {
	e := newEnv(t, sandbox.Config{})
	for _, c := range []struct{ method, phone, currency string }{
		{onekhusa.MethodAirtel, "", "MWK"},
		{onekhusa.MethodAirtel, "12345", "MWK"},
		{onekhusa.MethodAirtel, "0888123456", "MWK"}, // a TNM number
		{onekhusa.MethodMpamba, "0999123456", "MWK"}, // an Airtel number
		{onekhusa.MethodMpamba, "+254712345678", "MWK"},
		{"mpesa", "0999123456", "MWK"},
		{onekhusa.MethodAirtel, "0999123456", "USD"},
	} {
		o := order("val-000000000001", 1000)
		o.Method, o.Payer.Phone, o.Currency = c.method, c.phone, c.currency
		if _, err := e.p.CreateOrder(context.Background(), o); !errors.Is(err, providers.ErrInvalid) {
			t.Errorf("%+v: %v, want ErrInvalid", c, err)
		}
	}
	if n := e.tokenCalls.Load(); n != 0 {
		t.Errorf("%d calls to OneKhusa for orders refused locally", n)
	}
}

func TestMethods(t *testing.T) {
	p := onekhusa.New(onekhusa.Config{})
	ms, err := p.Methods(context.Background(), "MWK")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{onekhusa.MethodCheckout: false, onekhusa.MethodAirtel: true, onekhusa.MethodMpamba: true}
	if len(ms) != len(want) {
		t.Fatalf("methods %+v", ms)
	}
	for _, m := range ms {
		if needs, ok := want[m.ID]; !ok || needs != m.NeedsPhone || m.Name == "" {
			t.Errorf("method %+v", m)
		}
	}
	if ms, _ := p.Methods(context.Background(), "USD"); len(ms) != 0 {
		t.Errorf("methods for USD: %+v", ms)
	}
}

// TestPhonePage answers a push through the simulated phone's HTML page, as a person would.
func TestPhonePage(t *testing.T) {
	e := newEnv(t, sandbox.Config{})
	ctx := context.Background()
	o := order("phone-page-000001", 2500)
	o.Method, o.Payer.Phone = onekhusa.MethodMpamba, "0888765432"
	s, err := e.p.CreateOrder(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if s.PayURL != "" || s.Status != providers.StatusPending {
		t.Fatalf("push session %+v", s)
	}
	page := get(t, e.http.URL+"/phone")
	for _, want := range []string{"<h1>Simulated phone</h1>", "TNM Mpamba prompt to 0888765432", "MWK 25.00", o.Reference,
		`name="ref" value="` + s.ProviderRef + `"`, `value="approve">Approve</button>`, `value="decline">Decline</button>`} {
		if !strings.Contains(page, want) {
			t.Fatalf("phone page lacks %q:\n%s", want, page)
		}
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.PostForm(e.http.URL+"/phone", url.Values{"ref": {s.ProviderRef}, "action": {"approve"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("approve answered %d", resp.StatusCode)
	}
	r, err := e.p.FetchOrder(ctx, providers.Lookup{ProviderRef: s.ProviderRef, Reference: o.Reference})
	if err != nil || r.Status != providers.StatusPaid || r.Amount != 2500 || r.PaymentID == "" {
		t.Fatalf("after approving: %+v, %v", r, err)
	}
	// Answered, it is no longer a prompt (only a completed payment, with its Reverse button).
	if after := get(t, e.http.URL+"/phone"); strings.Contains(after, `aria-label="Prompt `+s.ProviderRef) || !strings.Contains(after, `aria-label="Payment `+s.ProviderRef) {
		t.Fatal("an answered prompt is still listed as a prompt, or not as a completed payment")
	}
	if err := e.srv.DeclinePush(s.ProviderRef); err == nil {
		t.Fatal("declining an approved push succeeded")
	}
}

func get(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", u, resp.StatusCode)
	}
	return string(b)
}

type delivery struct {
	header http.Header
	body   []byte
}

// TestWebhooks checks the sandbox delivers a webhook with the documented headers after a
// payment, and that ReadCallback accepts it only when OneKhusa vouches for the signature.
func TestWebhooks(t *testing.T) {
	got := make(chan delivery, 10)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- delivery{r.Header.Clone(), b}
	}))
	defer hook.Close()
	e := newEnv(t, sandbox.Config{WebhookURL: hook.URL})
	ctx := context.Background()
	o := order("hook-000000000001", 4200)
	s, err := e.p.CreateOrder(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (providertest.FormShopper{}).Complete(ctx, s, providertest.Pay); err != nil {
		t.Fatal(err)
	}
	var d delivery
	select {
	case d = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("no webhook delivered")
	}
	if ev := d.header.Get(onekhusa.HeaderWebhookEvent); ev != "pushpayment.success" {
		t.Fatalf("event %q", ev)
	}
	hint, err := e.p.ReadCallback(ctx, d.header, d.body)
	if err != nil {
		t.Fatal(err)
	}
	if hint.ProviderRef != s.ProviderRef || hint.Reference != o.Reference {
		t.Fatalf("hint %+v, want %s / %s", hint, s.ProviderRef, o.Reference)
	}

	tamper := func(f func(h http.Header)) http.Header {
		h := d.header.Clone()
		f(h)
		return h
	}
	for name, h := range map[string]http.Header{
		"forged signature": tamper(func(h http.Header) { h.Set(onekhusa.HeaderWebhookSignature, "forged-signature") }),
		"other event":      tamper(func(h http.Header) { h.Set(onekhusa.HeaderWebhookEvent, "pushpayment.failed") }),
		"no signature":     tamper(func(h http.Header) { h.Del(onekhusa.HeaderWebhookSignature) }),
		"no event":         tamper(func(h http.Header) { h.Del(onekhusa.HeaderWebhookEvent) }),
	} {
		if _, err := e.p.ReadCallback(ctx, h, d.body); !errors.Is(err, providers.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	for _, body := range []string{"", "null", "[]", `{"foo":1}`, "{not json"} {
		if _, err := e.p.ReadCallback(ctx, d.header, []byte(body)); !errors.Is(err, providers.ErrInvalid) {
			t.Errorf("body %q: %v, want ErrInvalid", body, err)
		}
	}

	// A decline on the page sends the failure event.
	s2, err := e.p.CreateOrder(ctx, order("hook-000000000002", 4200))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (providertest.FormShopper{}).Complete(ctx, s2, providertest.Decline); err != nil {
		t.Fatal(err)
	}
	select {
	case d = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("no webhook delivered for the decline")
	}
	if ev := d.header.Get(onekhusa.HeaderWebhookEvent); ev != "pushpayment.failed" {
		t.Fatalf("event %q", ev)
	}
	if hint, err := e.p.ReadCallback(ctx, d.header, d.body); err != nil || hint.ProviderRef != s2.ProviderRef {
		t.Fatalf("decline hint %+v, %v", hint, err)
	}
}

// TestCallbackVerifierDown checks a delivery that cannot be verified right now is a temporary
// failure, not a rejection.
func TestCallbackVerifierDown(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/account/getAccessToken" {
			json.NewEncoder(w).Encode(map[string]any{"accessToken": "t", "expiryInMinutes": 5})
			return
		}
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer ts.Close()
	p := onekhusa.New(configFor(ts.URL, sandbox.DefaultCredentials()))
	h := http.Header{}
	h.Set(onekhusa.HeaderWebhookEvent, "pushpayment.success")
	h.Set(onekhusa.HeaderWebhookSignature, "abc")
	_, err := p.ReadCallback(context.Background(), h, []byte(`{"transactionReferenceNumber":"B250713MGRTW"}`))
	if !providers.Temporary(err) {
		t.Fatalf("%v, want a temporary error", err)
	}
}

// TestReturnQuery checks the hosted page's redirect keeps Kassa's query and names the order.
func TestReturnQuery(t *testing.T) {
	e := newEnv(t, sandbox.Config{})
	ctx := context.Background()
	o := order("return-000000001", 999)
	s, err := e.p.CreateOrder(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	back, err := (providertest.FormShopper{}).Complete(ctx, s, providertest.Pay)
	if err != nil {
		t.Fatal(err)
	}
	if back.Query().Get("k") != "1" || !strings.HasPrefix(back.String(), o.ReturnURL) {
		t.Fatalf("sent to %s", back)
	}
	h := e.p.ParseReturn(back.Query())
	if h.ProviderRef != s.ProviderRef || h.Status != providers.StatusPaid {
		t.Fatalf("hint %+v", h)
	}
}

// TestMagicAmountsMatchTheSuite keeps the sandbox's copy of the magic amounts honest.
func TestMagicAmountsMatchTheSuite(t *testing.T) {
	e := newEnv(t, sandbox.Config{})
	ctx := context.Background()
	cases := []struct {
		major int64
		want  error
	}{
		{providertest.MagicCreateServerError, providers.ErrUnavailable},
		{providertest.MagicCreateRateLimited, providers.ErrRateLimited},
	}
	for _, c := range cases {
		_, err := e.p.CreateOrder(ctx, order(fmt.Sprintf("magic-%d-0000000", c.major), c.major*100))
		if !errors.Is(err, c.want) {
			t.Errorf("%d: %v, want %v", c.major, err, c.want)
		}
	}
	s, err := e.p.CreateOrder(ctx, order("magic-fetch-000001", providertest.MagicFetchServerError*100))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.p.FetchOrder(ctx, providers.Lookup{ProviderRef: s.ProviderRef}); !errors.Is(err, providers.ErrUnavailable) {
		t.Errorf("fetch of the failing amount: %v", err)
	}
	// The authorize-only amount is an ordinary payment: OneKhusa has no capture.
	s, err = e.p.CreateOrder(ctx, order("magic-auth-0000001", providertest.MagicAuthorizeOnly*100))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (providertest.FormShopper{}).Complete(ctx, s, providertest.Pay); err != nil {
		t.Fatal(err)
	}
	if r, err := e.p.FetchOrder(ctx, providers.Lookup{ProviderRef: s.ProviderRef}); err != nil || r.Status != providers.StatusPaid {
		t.Errorf("authorize-only amount: %+v, %v", r, err)
	}
}
