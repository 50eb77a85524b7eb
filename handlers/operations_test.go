package handlers_test

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/sessions"

	"github.com/kassa-pay/kassa/checkout"
	"github.com/kassa-pay/kassa/db"
	"github.com/kassa-pay/kassa/handlers"
	"github.com/kassa-pay/kassa/metrics"
	"github.com/kassa-pay/kassa/providers"
	"github.com/kassa-pay/kassa/providers/enkash"
	eksandbox "github.com/kassa-pay/kassa/providers/enkash/sandbox"
	"github.com/kassa-pay/kassa/providers/health"
	"github.com/kassa-pay/kassa/providers/instrumented"
	"github.com/kassa-pay/kassa/providers/onecheckout"
	ocsandbox "github.com/kassa-pay/kassa/providers/onecheckout/sandbox"
	"github.com/kassa-pay/kassa/providers/providertest"
)

// opsEnv is env wired as main wires it for operations: providers wrapped for metrics and
// circuit breakers (on an injected clock), readiness on the database, logs through
// handlers.LogHandler into a buffer.
type opsEnv struct {
	*env
	dbPath   string
	breakers *health.Breakers
	clock    *testClock
	// down makes the Onecheckout simulator answer 503 to every API call.
	down atomic.Bool
	logs *lockedBuffer
	oc   providers.Provider
	// served receives the X-Request-Id of each request once the handler has returned (and
	// so has logged everything about it).
	served chan string
}

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

func newOpsEnv(t *testing.T, withEnKash bool) *opsEnv {
	t.Helper()
	ctx := context.Background()
	o := &opsEnv{dbPath: filepath.Join(t.TempDir(), "kassa.db"), clock: &testClock{t: time.Now()}, logs: &lockedBuffer{}, served: make(chan string, 256)}
	d, err := db.Open(ctx, "sqlite:"+o.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	log := slog.New(handlers.LogHandler(slog.NewJSONHandler(o.logs, nil)))
	e := &env{store: d}
	var h http.Handler
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r)
		select {
		case o.served <- w.Header().Get("X-Request-Id"):
		default:
		}
	}))
	t.Cleanup(e.srv.Close)
	base, _ := url.Parse(e.srv.URL)

	sb := ocsandbox.New(ocsandbox.Config{Prefix: "/sandbox/onecheckout"})
	mounts := map[string]http.Handler{"/sandbox/onecheckout": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if o.down.Load() && strings.HasPrefix(r.URL.Path, "/api/") {
			http.Error(w, `{"error":{"code":"server_error","message":"maintenance"}}`, http.StatusServiceUnavailable)
			return
		}
		sb.ServeHTTP(w, r)
	})}
	o.oc = onecheckout.New(onecheckout.Config{BaseURL: e.srv.URL + "/sandbox/onecheckout/api/v1.0",
		APIKey: onecheckout.Secret(ocsandbox.DefaultCredentials().APIKey), Timeout: 10 * time.Second})
	raw := []providers.Provider{o.oc}
	if withEnKash {
		ek := eksandbox.New(eksandbox.Config{Prefix: "/sandbox/enkash"})
		t.Cleanup(ek.Close)
		mounts["/sandbox/enkash"] = ek
		c := eksandbox.DefaultCredentials()
		raw = append(raw, enkash.New(enkash.Config{BaseURL: e.srv.URL + "/sandbox/enkash/api/v0",
			AccessKey: c.AccessKey, SecretKey: enkash.Secret(c.SecretKey), Timeout: 10 * time.Second}))
	}
	var ids []providers.ID
	for _, p := range raw {
		ids = append(ids, p.ID())
	}
	o.breakers = health.New(d, ids, health.Config{Threshold: 2, Cooldown: time.Minute, Now: o.clock.Now, Log: log})
	if err := o.breakers.Init(ctx); err != nil {
		t.Fatal(err)
	}
	observe := func(_ context.Context, c instrumented.Call) {
		metrics.ProviderCall(string(c.Provider), c.Operation, c.Outcome, c.Duration)
	}
	var wrapped []providers.Provider
	for _, p := range raw {
		wrapped = append(wrapped, instrumented.Wrap(p, observe, o.breakers.Observe))
	}
	e.svc = &checkout.Service{Store: d, Providers: providers.NewRegistry(wrapped...), URLs: checkout.URLs{Base: e.srv.URL},
		Log: log, Breakers: o.breakers}
	e.server = &handlers.Server{
		Checkout:    e.svc,
		Sessions:    d.NewSessionStore(bytes.Repeat([]byte("s"), 32), sessions.Options{Path: "/", MaxAge: 3600, HttpOnly: true}),
		CSRFKey:     bytes.Repeat([]byte("c"), 32),
		BaseURL:     base,
		Log:         log,
		Idempotency: d,
		Mounts:      mounts,
		Ready:       d.Ready,
	}
	h = e.server.Handler()
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
	o.env = e
	return o
}

// waitServed waits until the request with id has been fully handled.
func (o *opsEnv) waitServed(t *testing.T, id string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case got := <-o.served:
			if got == id {
				return
			}
		case <-timeout:
			t.Fatalf("request %s was not finished", id)
		}
	}
}

func (o *opsEnv) readyz(t *testing.T) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get(o.srv.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

func TestReadyz(t *testing.T) {
	o := newOpsEnv(t, false)
	status, body := o.readyz(t)
	if status != http.StatusOK || body["status"] != "ready" {
		t.Fatalf("readyz on a migrated database: %d %v", status, body)
	}
	ps, _ := body["providers"].([]any)
	if len(ps) != 1 || ps[0].(map[string]any)["state"] != "closed" {
		t.Fatalf("readyz providers: %v", body["providers"])
	}

	// A migration this binary carries is missing from the database: not ready.
	raw, err := sql.Open("sqlite3", o.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var version int
	if err := raw.QueryRow(`SELECT MAX(version) FROM schema_migrations`).Scan(&version); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`DELETE FROM schema_migrations WHERE version = ?`, version); err != nil {
		t.Fatal(err)
	}
	if status, body := o.readyz(t); status != http.StatusServiceUnavailable || body["status"] != "unavailable" {
		t.Fatalf("readyz with migration %d missing: %d %v", version, status, body)
	}
	if !strings.Contains(o.logs.String(), "migrations not applied") {
		t.Error("the reason for not being ready is not logged")
	}
	if _, err := raw.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'back', 0)`, version); err != nil {
		t.Fatal(err)
	}
	if status, _ := o.readyz(t); status != http.StatusOK {
		t.Fatalf("readyz once migrated again: %d", status)
	}

	// The database is gone: not ready.
	o.store.Close()
	if status, body := o.readyz(t); status != http.StatusServiceUnavailable || body["database"] != "not ready" {
		t.Fatalf("readyz with the database closed: %d %v", status, body)
	}
}

// scrape returns the /metrics page.
func (o *opsEnv) scrape(t *testing.T) string {
	t.Helper()
	resp, err := http.Get(o.srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("/metrics: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return string(b)
}

// series returns the value of the sample whose name and labels start with prefix, or "".
func series(page, prefix string) string {
	sc := bufio.NewScanner(strings.NewReader(page))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, prefix) {
			return line[strings.LastIndexByte(line, ' ')+1:]
		}
	}
	return ""
}

func TestMetricsAfterACheckout(t *testing.T) {
	o := newOpsEnv(t, false)
	metrics.WatchDBPools(o.store.Pools())
	metrics.WatchJobLag("verify", o.store.VerificationLag)
	metrics.WatchBreakers(func(ctx context.Context) (map[string]string, error) {
		states, err := o.breakers.States(ctx)
		out := map[string]string{}
		for _, s := range states {
			out[string(s.Provider)] = string(s.State)
		}
		return out, err
	})
	metrics.WatchWebhookBacklog(func(context.Context) (int64, error) { return 3, nil })
	metrics.WebhookDelivered("delivered")

	status, body := o.api(t, "POST", "/api/payment/checkout", o.token, o.createBody("6197"))
	if status != http.StatusCreated {
		t.Fatalf("create: %d %v", status, body)
	}
	id := body["id"].(string)
	resp := o.submit(t, "/checkout/"+id, url.Values{"provider": {"onecheckout"}})
	resp.Body.Close()
	back, err := (providertest.FormShopper{}).Complete(context.Background(), providers.Session{PayURL: resp.Header.Get("Location")}, providertest.Pay)
	if err != nil {
		t.Fatal(err)
	}
	o.page(t, strings.TrimPrefix(back.String(), o.srv.URL))
	if p, _ := o.svc.Payment(context.Background(), id); p.Status != checkout.PaymentPaid {
		t.Fatalf("payment %s after paying", p.Status)
	}
	o.page(t, "/checkout/pay_unknown_for_metrics")

	page := o.scrape(t)
	for _, want := range []string{
		`kassa_http_requests_total{method="POST",route="/api/payment/checkout",status="201"}`,
		`kassa_http_requests_total{method="GET",route="/checkout/:id",status="200"}`,
		`kassa_http_requests_total{method="POST",route="/checkout/:id",status="303"}`,
		`kassa_http_requests_total{method="GET",route="/checkout/:id/return/:attempt",status="303"}`,
		`kassa_http_request_duration_seconds_bucket{method="GET",route="/checkout/:id",le="+Inf"}`,
		`kassa_provider_calls_total{operation="create order",outcome="ok",provider="onecheckout"}`,
		`kassa_provider_calls_total{operation="fetch order",outcome="ok",provider="onecheckout"}`,
		`kassa_provider_call_duration_seconds_bucket{operation="create order",provider="onecheckout",le="+Inf"}`,
		`kassa_payments_moved_total{status="open"}`,
		`kassa_payments_moved_total{status="paid"}`,
		`kassa_webhook_deliveries_total{outcome="delivered"}`,
		`kassa_webhook_backlog`,
		`kassa_job_lag_seconds{job="verify"}`,
		`kassa_provider_breaker_state{provider="onecheckout"}`,
		`kassa_db_open_connections{pool="write"}`,
		`kassa_db_in_use_connections{pool="read"}`,
	} {
		if series(page, want) == "" {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if v := series(page, `kassa_webhook_backlog `); v != "3" {
		t.Errorf("kassa_webhook_backlog = %q, want 3", v)
	}
	if v := series(page, `kassa_provider_breaker_state{provider="onecheckout"}`); v != "0" {
		t.Errorf("breaker state %q, want 0 (closed)", v)
	}
	// Routes are labelled by pattern: no payment id, no unknown path becomes a label.
	if strings.Contains(page, id) || strings.Contains(page, "pay_unknown_for_metrics") {
		t.Error("a raw URL leaked into the metrics' labels")
	}
	if series(page, `kassa_http_requests_total{method="GET",route="/checkout/:id",status="404"}`) == "" {
		t.Error("the unknown payment's 404 is not counted under its route")
	}
}

// TestRequestIDOnEveryLogLine: the id a request brings (or is given) is in X-Request-Id and on
// every line logged while serving it, including lines logged below the handlers.
func TestRequestIDOnEveryLogLine(t *testing.T) {
	o := newOpsEnv(t, false)
	p := o.newPayment(t, 500_00) // the sandbox's magic amount for a 5xx on create
	_, page := o.page(t, "/checkout/"+p.ID)
	tok := csrfField.FindStringSubmatch(page)[1]

	before := len(o.logs.String())
	req, _ := http.NewRequest("POST", o.srv.URL+"/checkout/"+p.ID, strings.NewReader(url.Values{"provider": {"onecheckout"}, "csrf_token": {tok}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", o.srv.URL)
	req.Header.Set("X-Request-Id", "req-ops-test-1")
	resp, err := o.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("X-Request-Id") != "req-ops-test-1" {
		t.Fatalf("choose: %d, X-Request-Id %q", resp.StatusCode, resp.Header.Get("X-Request-Id"))
	}
	o.waitServed(t, "req-ops-test-1")
	lines := strings.Split(strings.TrimSpace(o.logs.String()[before:]), "\n")
	msgs := map[string]bool{}
	for _, l := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		msgs[rec["msg"].(string)] = true
		if rec["request_id"] != "req-ops-test-1" {
			t.Errorf("log line without the request id: %s", l)
		}
		if strings.Count(l, `"request_id"`) != 1 {
			t.Errorf("request id repeated: %s", l)
		}
	}
	// The checkout service's warning and the request line are both there.
	if !msgs["provider order outcome unknown: looking it up"] || !msgs["request"] {
		t.Fatalf("expected the service's warning and the request line, got %v", lines)
	}

	// Without an incoming id, one is made and answered.
	resp, err = http.Get(o.srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	id := resp.Header.Get("X-Request-Id")
	o.waitServed(t, id)
	if len(id) < 8 || !strings.Contains(o.logs.String(), `"request_id":"`+id+`"`) {
		t.Fatalf("generated request id %q not on the log", id)
	}
}

// TestBreakerTakesProviderOffCheckoutPage: a provider failing with 5xx is taken off the page
// after the threshold, the shopper still sees the other provider, a stale form choosing it is
// refused without calling it, and it comes back after a successful probe.
func TestBreakerTakesProviderOffCheckoutPage(t *testing.T) {
	o := newOpsEnv(t, true)
	ctx := context.Background()
	p, err := o.svc.CreatePayment(ctx, checkout.NewPayment{ClientID: o.app.ClientID, Amount: 6197, Currency: "INR", Reference: "R-1"})
	if err != nil {
		t.Fatal(err)
	}
	_, body := o.page(t, "/checkout/"+p.ID)
	if !strings.Contains(body, ">Onecheckout</label>") || !strings.Contains(body, ">EnKash</label>") {
		t.Fatalf("both providers should be offered for INR:\n%s", body)
	}

	o.down.Store(true)
	for range 2 { // the threshold
		resp := o.submit(t, "/checkout/"+p.ID, url.Values{"provider": {"onecheckout"}})
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("choosing a failing provider: %d", resp.StatusCode)
		}
	}
	status, body := o.page(t, "/checkout/"+p.ID)
	if status != 200 || strings.Contains(body, ">Onecheckout</label>") || !strings.Contains(body, ">EnKash</label>") {
		t.Fatalf("with Onecheckout's breaker open the page should offer EnKash alone (%d):\n%s", status, body)
	}
	if status, body := o.readyz(t); status != 200 || !strings.Contains(asJSON(body["providers"]), `"name":"Onecheckout","openUntil":"`) ||
		!strings.Contains(asJSON(body["providers"]), `"provider":"onecheckout","state":"open"`) {
		t.Fatalf("readyz does not show the open breaker: %d %v", status, body)
	}
	attempts := func() int { got, _ := o.svc.Payment(ctx, p.ID); return len(got.Attempts) }
	n := attempts()
	// A form drawn before the breaker opened still names Onecheckout: refused, not sent.
	resp := o.submit(t, "/checkout/"+p.ID, url.Values{"provider": {"onecheckout"}})
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(b), "Onecheckout is not available right now") || attempts() != n {
		t.Fatalf("a stale choice of an open provider: %d, %d attempts (was %d)", resp.StatusCode, attempts(), n)
	}

	// The provider recovers; after the cool-down a probe finds it answering.
	o.down.Store(false)
	probe := func(ctx context.Context, id providers.ID) error {
		_, err := o.oc.FetchOrder(ctx, health.ProbeLookup)
		return err
	}
	if got, err := o.breakers.ProbeDue(ctx, probe); err != nil || len(got) != 0 {
		t.Fatalf("probed %v (%v) during the cool-down", got, err)
	}
	o.clock.Add(time.Minute)
	if got, err := o.breakers.ProbeDue(ctx, probe); err != nil || len(got) != 1 {
		t.Fatalf("ProbeDue after the cool-down = %v, %v", got, err)
	}
	if _, body := o.page(t, "/checkout/"+p.ID); !strings.Contains(body, ">Onecheckout</label>") {
		t.Fatalf("Onecheckout not offered again after a successful probe:\n%s", body)
	}
	resp = o.submit(t, "/checkout/"+p.ID, url.Values{"provider": {"onecheckout"}})
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("choosing the recovered provider: %d", resp.StatusCode)
	}
}

// TestAllProvidersDownPage: when every provider for the payment is taken off, the shopper gets
// a clear 503 page to come back in a few minutes, and the payment stays open.
func TestAllProvidersDownPage(t *testing.T) {
	o := newOpsEnv(t, false)
	p := o.newPayment(t, 6197)
	o.page(t, "/checkout/"+p.ID) // the adapter caches the currencies it serves
	o.down.Store(true)
	for range 2 {
		resp := o.submit(t, "/checkout/"+p.ID, url.Values{"provider": {"onecheckout"}})
		resp.Body.Close()
	}
	resp, err := o.client.Get(o.srv.URL + "/checkout/" + p.ID)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	body := string(b)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("all providers down: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	for _, want := range []string{"Payments are unavailable right now", "try again in a few minutes", "Nothing has been charged", `href="/checkout/` + p.ID + `"`} {
		if !strings.Contains(body, want) {
			t.Errorf("all-down page lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "Pay USD") {
		t.Error("the all-down page offers a Pay button")
	}
	if got, _ := o.svc.Payment(context.Background(), p.ID); got.Status != checkout.PaymentOpen {
		t.Fatalf("payment %s, want open", got.Status)
	}
}

func asJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestRequestIDWithPlainLogger: a Server given a logger that was not wrapped with LogHandler
// still puts the request id on its lines.
func TestRequestIDWithPlainLogger(t *testing.T) {
	var buf lockedBuffer
	s := &handlers.Server{CSRFKey: bytes.Repeat([]byte("c"), 32), Log: slog.New(slog.NewJSONHandler(&buf, nil))}
	h := s.Handler()
	req := httptest.NewRequest("GET", "/healthz", nil)
	req.Header.Set("X-Request-Id", "plain-logger-1")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Header().Get("X-Request-Id") != "plain-logger-1" || !strings.Contains(buf.String(), `"request_id":"plain-logger-1"`) {
		t.Fatalf("header %q, log %s", rec.Header().Get("X-Request-Id"), buf.String())
	}
}

// TestMetricsMethodLabelBounded: the method label takes only the standard methods; anything
// a client invents is counted as "other", so a stranger cannot grow /metrics (and Kassa's
// memory) by one series per made-up method.
func TestMetricsMethodLabelBounded(t *testing.T) {
	e := newEnv(t)
	for _, m := range []string{"KASSAXA1", "KASSAXA2", "kassaxa3"} {
		for _, path := range []string{"/healthz", "/no-such-page"} {
			req, _ := http.NewRequest(m, e.srv.URL+path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
	}
	resp, err := http.Get(e.srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	page := string(b)
	if strings.Contains(strings.ToUpper(page), "KASSAXA") {
		t.Fatal("a client's made-up method became a metrics label")
	}
	if series(page, `kassa_http_requests_total{method="other",route="unmatched",status="405"}`) == "" {
		t.Errorf("made-up methods are not counted as other:\n%s", page)
	}
}
