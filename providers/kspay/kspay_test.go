package kspay

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kassa-pay/kassa/providers"
	"github.com/kassa-pay/kassa/providers/kspay/sandbox"
	"github.com/kassa-pay/kassa/providers/providertest"
)

func TestConformance(t *testing.T) {
	sb := sandbox.New(sandbox.Config{SlowDelay: 6 * time.Second})
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	cfg := sandboxConfig(srv.URL)
	bad := cfg
	bad.SecretKey = "sk_wrong"
	providertest.Run(t, providertest.Harness{
		Provider:             New(cfg),
		BadCredentials:       New(bad),
		Currency:             "INR",
		ConversionCurrencies: []string{"JPY", "INR", "USD", "KWD"},
		ExpireOrder:          func(t *testing.T, ref string) { sb.ExpireOrder(ref) },
		ExpireTokens:         func(t *testing.T) { sb.ExpireTokens() },
		// KS Pay has one redirectUrl: Decline and Cancel come back to it too.
		CancelGoesToCancelURL: false,
	})
}

func sandboxConfig(base string) Config {
	c := sandbox.DefaultCredentials()
	return Config{BaseURL: base, AppID: c.AppID, AccessKey: c.AccessKey, SecretKey: Secret(c.SecretKey), Timeout: 2 * time.Second}
}

// clock is a settable time for the sandbox and the adapter's catalog cache.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// recorder is an http.RoundTripper that records each call as "METHOD /path STATUS" and can run
// a hook after each response.
type recorder struct {
	mu     sync.Mutex
	calls  []string
	tokens []string // every Authorization and x-signature value sent
	after  func(req *http.Request, status int)
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	for _, h := range []string{"Authorization", "X-Signature"} {
		if v := req.Header.Get(h); v != "" {
			r.tokens = append(r.tokens, strings.TrimPrefix(v, "Bearer "))
		}
	}
	r.mu.Unlock()
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.calls = append(r.calls, fmt.Sprintf("%s %s %d", req.Method, req.URL.Path, resp.StatusCode))
	after := r.after
	r.mu.Unlock()
	if after != nil {
		after(req, resp.StatusCode)
	}
	return resp, nil
}

func (r *recorder) reset() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.calls
	r.calls = nil
	return c
}

// env is a provider wired to a sandbox on a settable clock, through a recorder.
type env struct {
	sb    *sandbox.Server
	p     *Provider
	rec   *recorder
	clock *clock
}

func newEnv(t *testing.T, sc sandbox.Config) *env {
	t.Helper()
	e := &env{rec: &recorder{}, clock: &clock{t: time.Now()}}
	sc.Now = e.clock.Now
	if sc.SlowDelay == 0 {
		sc.SlowDelay = 6 * time.Second
	}
	e.sb = sandbox.New(sc)
	srv := httptest.NewServer(e.sb)
	t.Cleanup(srv.Close)
	cfg := sandboxConfig(srv.URL)
	cfg.HTTPClient = &http.Client{Transport: e.rec}
	e.p = New(cfg)
	e.p.now = e.clock.Now
	return e
}

var refSeq atomic.Int64

func order(cur string, amount int64, method string) providers.Order {
	ref := fmt.Sprintf("att_kspay_%d_%d", time.Now().UnixNano(), refSeq.Add(1))
	return providers.Order{
		Reference: ref, Description: "Test order", Amount: amount, Currency: cur, Method: method,
		ReturnURL: "https://kassa.test/checkout/pay_1/return/" + ref + "?outcome=return",
		CancelURL: "https://kassa.test/checkout/pay_1/return/" + ref + "?outcome=cancel",
	}
}

func (e *env) create(t *testing.T, o providers.Order) providers.Session {
	t.Helper()
	s, err := e.p.CreateOrder(context.Background(), o)
	if err != nil {
		t.Fatalf("create order: %v", err)
	}
	return s
}

func sameCalls(t *testing.T, got []string, want ...string) {
	t.Helper()
	norm := make([]string, len(got))
	for i, c := range got {
		// Keep the method, the first path segment and the status: ids vary.
		f := strings.Fields(c)
		seg := strings.SplitN(strings.TrimPrefix(f[1], "/"), "/", 3)
		p := "/" + seg[0]
		if len(seg) > 1 && (seg[0] == "auth" || seg[0] == "transaction") {
			p += "/" + seg[1]
		}
		norm[i] = f[0] + " " + p + " " + f[2]
	}
	if !slices.Equal(norm, want) {
		t.Fatalf("calls:\n  %s\nwant:\n  %s", strings.Join(norm, "\n  "), strings.Join(want, "\n  "))
	}
}

func TestAccessTokenExpiryMidFlowUsesRefresh(t *testing.T) {
	e := newEnv(t, sandbox.Config{AccessTokenLifetime: 10 * time.Minute, RefreshTokenLifetime: 24 * time.Hour})
	o := order("INR", 1234, "")
	s := e.create(t, o)
	e.clock.Advance(11 * time.Minute) // the sandbox's access token has expired; the refresh token has not
	e.rec.reset()
	r, err := e.p.FetchOrder(context.Background(), providers.Lookup{ProviderRef: s.ProviderRef, Reference: o.Reference, Currency: "INR"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != providers.StatusPending || r.Amount != 1234 {
		t.Fatalf("fetched %+v", r)
	}
	sameCalls(t, e.rec.reset(),
		"GET /transaction/txnId 401",
		"POST /auth/refresh-token 201",
		"GET /transaction/txnId 200",
	)
}

func TestRefreshTokenExpiryLogsInAgain(t *testing.T) {
	e := newEnv(t, sandbox.Config{AccessTokenLifetime: 10 * time.Minute, RefreshTokenLifetime: time.Hour})
	o := order("INR", 1234, "")
	s := e.create(t, o)
	e.clock.Advance(2 * time.Hour) // both tokens have expired
	e.rec.reset()
	if _, err := e.p.FetchOrder(context.Background(), providers.Lookup{ProviderRef: s.ProviderRef, Reference: o.Reference, Currency: "INR"}); err != nil {
		t.Fatal(err)
	}
	sameCalls(t, e.rec.reset(),
		"GET /transaction/txnId 401",
		"POST /auth/refresh-token 401",
		"POST /auth/generate-token 201",
		"GET /transaction/txnId 200",
	)
}

func TestRenewsAccessTokenBeforeExpiry(t *testing.T) {
	// Tokens living 5s are inside the client's 30s renewal margin from the start, so every call
	// renews first, and no call is ever refused.
	e := newEnv(t, sandbox.Config{AccessTokenLifetime: 5 * time.Second})
	c := e.p.Client()
	for range 2 {
		if _, err := c.Currencies(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	sameCalls(t, e.rec.reset(),
		"POST /auth/generate-token 201",
		"GET /currencies 200",
		"POST /auth/refresh-token 201",
		"GET /currencies 200",
	)
}

func TestExpiredSignatureIsReinitiated(t *testing.T) {
	e := newEnv(t, sandbox.Config{SignatureLifetime: time.Minute, AccessTokenLifetime: time.Hour})
	var once sync.Once
	e.rec.after = func(req *http.Request, status int) {
		if req.URL.Path == "/transaction/initiate" && status == http.StatusCreated {
			once.Do(func() { e.clock.Advance(2 * time.Minute) }) // the first signature expires before process
		}
	}
	o := order("INR", 1234, "")
	s := e.create(t, o)
	calls := e.rec.reset()
	sameCalls(t, calls[len(calls)-4:],
		"POST /transaction/initiate 201",
		"POST /transaction/process 400",
		"POST /transaction/initiate 201",
		"POST /transaction/process 201",
	)
	txs, err := e.p.Client().Transactions(context.Background(), ListOptions{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, tx := range txs {
		if tx.ReferenceNumber == o.Reference {
			n++
			if tx.ID != s.ProviderRef {
				t.Fatalf("transaction %s, session names %s", tx.ID, s.ProviderRef)
			}
		}
	}
	if n != 1 {
		t.Fatalf("%d transactions for one reference, want 1", n)
	}
}

func TestSignatureExpiringAgainIsAClearError(t *testing.T) {
	e := newEnv(t, sandbox.Config{SignatureLifetime: time.Minute, AccessTokenLifetime: 24 * time.Hour})
	e.rec.after = func(req *http.Request, status int) {
		if req.URL.Path == "/transaction/initiate" && status == http.StatusCreated {
			e.clock.Advance(2 * time.Minute)
		}
	}
	_, err := e.p.CreateOrder(context.Background(), order("INR", 1234, ""))
	var pe *providers.Error
	if !errors.As(err, &pe) || !errors.Is(err, providers.ErrInvalid) || pe.Code != "11005" || !strings.Contains(err.Error(), "signature expired") {
		t.Fatalf("err = %v, want ErrInvalid 11005 saying the signature expired", err)
	}
	calls := e.rec.reset()
	sameCalls(t, calls[len(calls)-4:],
		"POST /transaction/initiate 201",
		"POST /transaction/process 400",
		"POST /transaction/initiate 201",
		"POST /transaction/process 400",
	)
}

func TestCatalogIsCachedAndMapped(t *testing.T) {
	e := newEnv(t, sandbox.Config{})
	ctx := context.Background()
	cs, err := e.p.Currencies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cs, []string{"INR", "USD", "JPY", "KWD"}) {
		t.Fatalf("currencies %v; want INR USD JPY KWD (EUR is disabled)", cs)
	}
	inr, err := e.p.Methods(ctx, "INR")
	if err != nil {
		t.Fatal(err)
	}
	usd, err := e.p.Methods(ctx, "USD")
	if err != nil {
		t.Fatal(err)
	}
	names := func(ms []providers.Method) (out []string) {
		for _, m := range ms {
			out = append(out, m.ID+" "+m.Name)
		}
		return out
	}
	if want := []string{"pm_Mk55VGvFm NET BANKING", "pm_QtgkfiiWb DEBIT CARD", "pm_Upi7Kq2Xa UPI"}; !slices.Equal(names(inr), want) {
		t.Fatalf("INR methods %v, want %v", names(inr), want)
	}
	if want := []string{"pm_67NoP7JaQ Credit Card", "pm_PpL9vW3sE PAYPAL"}; !slices.Equal(names(usd), want) {
		t.Fatalf("USD methods %v, want %v", names(usd), want)
	}
	if _, err := e.p.Methods(ctx, "EUR"); !errors.Is(err, providers.ErrInvalid) {
		t.Fatalf("methods for a disabled currency: %v, want ErrInvalid", err)
	}

	e.rec.reset()
	e.p.Currencies(ctx)
	e.p.Methods(ctx, "INR")
	if calls := e.rec.reset(); len(calls) != 0 {
		t.Fatalf("cached catalog still called %v", calls)
	}
	e.clock.Advance(defaultCatalogTTL + time.Second)
	e.p.Currencies(ctx)
	e.p.Methods(ctx, "INR")
	sameCalls(t, e.rec.reset(),
		"GET /currencies 200",
		"GET /c_WkmEe23LeI 200",
	)
}

func TestCreateOrderPicksTheMethod(t *testing.T) {
	e := newEnv(t, sandbox.Config{})
	ctx := context.Background()
	for _, tc := range []struct{ method, want string }{
		{"", "pm_67NoP7JaQ"}, // the currency's first method
		{"pm_PpL9vW3sE", "pm_PpL9vW3sE"},
	} {
		s := e.create(t, order("USD", 1999, tc.method))
		tx, err := e.p.Client().Transaction(ctx, s.ProviderRef)
		if err != nil {
			t.Fatal(err)
		}
		if tx.PaymentMethodID != tc.want || tx.CurrencyCode != "USD" || tx.Amount != "19.99" {
			t.Fatalf("method %q: transaction has %s %s %s, want %s USD 19.99", tc.method, tx.PaymentMethodID, tx.Amount, tx.CurrencyCode, tc.want)
		}
	}
	// An INR method for a USD order is refused by KS Pay with 12001 (HTTP 404): the request is
	// at fault, not a missing order.
	_, err := e.p.CreateOrder(ctx, order("USD", 1999, "pm_Mk55VGvFm"))
	var pe *providers.Error
	if !errors.As(err, &pe) || !errors.Is(err, providers.ErrInvalid) || pe.Code != "12001" {
		t.Fatalf("create with another currency's method: %v, want ErrInvalid 12001", err)
	}
	if _, err := e.p.CreateOrder(ctx, order("EUR", 1999, "")); !errors.Is(err, providers.ErrInvalid) {
		t.Fatalf("create in an unserved currency: %v, want ErrInvalid", err)
	}
}

func TestFetchByReferenceWithoutProviderRef(t *testing.T) {
	e := newEnv(t, sandbox.Config{})
	o := order("INR", 51234, "")
	s := e.create(t, o)
	e.create(t, order("INR", 100, "")) // a newer one, listed first
	r, err := e.p.FetchOrder(context.Background(), providers.Lookup{Reference: o.Reference, Currency: "INR"})
	if err != nil {
		t.Fatal(err)
	}
	if r.ProviderRef != s.ProviderRef || r.Amount != 51234 || r.Currency != "INR" {
		t.Fatalf("found %+v, want %s 51234 INR", r, s.ProviderRef)
	}
	_, err = e.p.FetchOrder(context.Background(), providers.Lookup{Reference: "att_never_created", Currency: "INR"})
	if !errors.Is(err, providers.ErrNotFound) {
		t.Fatalf("fetch of a reference never created: %v, want ErrNotFound", err)
	}
}

func TestRateLimit(t *testing.T) {
	e := newEnv(t, sandbox.Config{RateLimit: 3})
	c := e.p.Client()
	ctx := context.Background()
	var err error
	for range 3 { // generate-token, then currencies: the fourth request is over the limit
		_, err = c.Currencies(ctx)
	}
	var pe *providers.Error
	if !errors.As(err, &pe) || !errors.Is(err, providers.ErrRateLimited) || pe.RetryAfter != time.Minute {
		t.Fatalf("over the limit: %v, want ErrRateLimited with Retry-After 1m", err)
	}
	e.clock.Advance(time.Minute)
	if _, err := c.Currencies(ctx); err != nil {
		t.Fatalf("after the window: %v", err)
	}

	e2 := newEnv(t, sandbox.Config{})
	_, err = e2.p.CreateOrder(ctx, order("INR", 42900, ""))
	if !errors.As(err, &pe) || pe.RetryAfter != 30*time.Second || pe.Code != "11005" {
		t.Fatalf("magic rate limit: %v, want 11005 with Retry-After 30s", err)
	}
}

func TestSecretsNeverLeak(t *testing.T) {
	e := newEnv(t, sandbox.Config{RateLimit: 40})
	secret := sandbox.DefaultCredentials().SecretKey
	ctx := context.Background()
	var texts []string

	cfg := e.p.client.cfg
	texts = append(texts, fmt.Sprintf("%v %+v %#v %s %q %x %d", cfg, cfg, cfg, cfg.SecretKey, cfg.SecretKey, cfg.SecretKey, cfg.SecretKey))
	var logs strings.Builder
	logger := slogJSON(&logs)
	logger.Info("config", "cfg", cfg, "key", cfg.SecretKey)

	pair, err := e.p.Client().GenerateToken(ctx)
	if err != nil {
		t.Fatal(err)
	}
	logger.Info("tokens", "pair", pair, "access", pair.AccessToken)
	b, _ := jsonMarshal(pair)
	texts = append(texts, fmt.Sprintf("%v %+v", pair, pair), string(b), logs.String())

	// Errors of every kind the client produces.
	e.create(t, order("INR", 1234, ""))
	e.sb.ExpireTokens()
	_, err = e.p.FetchOrder(ctx, providers.Lookup{ProviderRef: "tx_doesNotEx", Currency: "INR"})
	texts = append(texts, fmt.Sprint(err))
	_, err = e.p.CreateOrder(ctx, order("INR", 50000, ""))
	texts = append(texts, fmt.Sprint(err))
	_, err = e.p.Client().ProcessTransaction(ctx, Secret(strings.Repeat("ab", 32)))
	texts = append(texts, fmt.Sprint(err))
	badCfg := cfg
	badCfg.SecretKey = Secret(secret + "x")
	_, err = New(badCfg).CreateOrder(ctx, order("INR", 1234, ""))
	texts = append(texts, fmt.Sprint(err), fmt.Sprintf("%+v %#v", err, err))
	if !errors.Is(err, providers.ErrAuth) {
		t.Fatalf("bad secret: %v, want ErrAuth", err)
	}

	e.rec.mu.Lock()
	secrets := append([]string{secret, secret + "x"}, e.rec.tokens...)
	e.rec.mu.Unlock()
	if len(secrets) < 4 {
		t.Fatalf("recorded only %d tokens; the test checks nothing", len(secrets))
	}
	for _, text := range texts {
		if !strings.Contains(text, "[redacted]") && strings.Contains(text, "SecretKey") {
			t.Errorf("secret field printed without redaction: %s", text)
		}
		for _, sec := range secrets {
			if len(sec) >= 8 && strings.Contains(text, sec) {
				t.Errorf("a secret (%.6s...) leaked into: %.300s", sec, text)
			}
		}
	}
}
