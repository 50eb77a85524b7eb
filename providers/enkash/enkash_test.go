package enkash

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kassa-pay/kassa/providers"
	"github.com/kassa-pay/kassa/providers/enkash/sandbox"
	"github.com/kassa-pay/kassa/providers/providertest"
)

// notifyRecorder stands in for Kassa's callback endpoint: it records every notifyUrl delivery
// and answers with the queued statuses (then 204).
type notifyRecorder struct {
	mu       sync.Mutex
	statuses []int
	got      []recorded
	arrived  chan struct{}
}

type recorded struct {
	URL  string
	Body []byte
}

func newNotifyRecorder(statuses ...int) *notifyRecorder {
	return &notifyRecorder{statuses: statuses, arrived: make(chan struct{}, 100)}
}

func (n *notifyRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	body, _ := io.ReadAll(r.Body)
	n.mu.Lock()
	n.got = append(n.got, recorded{URL: r.URL.String(), Body: body})
	status := http.StatusNoContent
	if len(n.statuses) > 0 {
		status, n.statuses = n.statuses[0], n.statuses[1:]
	}
	n.mu.Unlock()
	n.arrived <- struct{}{}
	return &http.Response{StatusCode: status, Body: io.NopCloser(strings.NewReader("")), Header: http.Header{}, Request: r}, nil
}

func (n *notifyRecorder) deliveries() []recorded {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]recorded(nil), n.got...)
}

// wait blocks until count deliveries arrived; the deadline only guards against a hang.
func (n *notifyRecorder) wait(t *testing.T, count int) {
	t.Helper()
	for range count {
		select {
		case <-n.arrived:
		case <-time.After(10 * time.Second):
			t.Fatalf("only %d of %d notifications arrived", len(n.deliveries()), count)
		}
	}
}

type env struct {
	srv    *sandbox.Server
	http   *httptest.Server
	p      *Provider
	cfg    Config
	notes  *notifyRecorder
	clock  *clock
	shop   providertest.FormShopper
	orders atomic.Int64
}

// clock is the sandbox's adjustable Now.
type clock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

func newEnv(t *testing.T, sbx func(*sandbox.Config), client func(*Config)) *env {
	t.Helper()
	e := &env{notes: newNotifyRecorder(), clock: &clock{}}
	sc := sandbox.Config{
		Now:           e.clock.Now,
		SlowDelay:     6 * time.Second,
		NotifyClient:  &http.Client{Transport: e.notes},
		NotifyBackoff: time.Millisecond,
	}
	if sbx != nil {
		sbx(&sc)
	}
	e.srv = sandbox.New(sc)
	e.http = httptest.NewServer(e.srv)
	t.Cleanup(func() {
		e.http.Close()
		e.srv.Close()
	})
	creds := sandbox.DefaultCredentials()
	e.cfg = Config{BaseURL: e.http.URL + "/api/v0", AccessKey: creds.AccessKey, SecretKey: Secret(creds.SecretKey), Timeout: 2 * time.Second}
	if client != nil {
		client(&e.cfg)
	}
	e.p = New(e.cfg)
	return e
}

func (e *env) order(amount int64) providers.Order {
	ref := fmt.Sprintf("attTest%d%d", time.Now().UnixNano(), e.orders.Add(1))
	return providers.Order{
		Reference: ref, Description: "Test order", Amount: amount, Currency: "INR",
		ReturnURL: "https://kassa.test/return/" + ref + "?outcome=return",
		CancelURL: "https://kassa.test/return/" + ref + "?outcome=cancel",
		NotifyURL: "https://kassa.test/callbacks/enkash",
	}
}

func (e *env) create(t *testing.T, amount int64) (providers.Order, providers.Session) {
	t.Helper()
	o := e.order(amount)
	s, err := e.p.CreateOrder(context.Background(), o)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	return o, s
}

func (e *env) act(t *testing.T, s providers.Session, a providertest.Action) *url.URL {
	t.Helper()
	back, err := e.shop.Complete(context.Background(), s, a)
	if err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	return back
}

func (e *env) fetch(t *testing.T, s providers.Session) providers.Result {
	t.Helper()
	r, err := e.p.FetchOrder(context.Background(), providers.Lookup{ProviderRef: s.ProviderRef, Currency: "INR"})
	if err != nil {
		t.Fatalf("fetch: %v", err)
	}
	return r
}

func TestConformance(t *testing.T) {
	e := newEnv(t, nil, nil)
	badCfg := e.cfg
	badCfg.SecretKey = "not-the-sandbox-secret"
	providertest.Run(t, providertest.Harness{
		Provider:             e.p,
		BadCredentials:       New(badCfg),
		Currency:             "INR",
		ConversionCurrencies: []string{"INR"},
		ExpireOrder:          func(t *testing.T, ref string) { e.srv.ExpireOrder(ref) },
		ExpireTokens:         func(t *testing.T) { e.srv.ExpireTokens() },
	})
}

func TestTokenReusedWhileValid(t *testing.T) {
	e := newEnv(t, nil, nil)
	_, s := e.create(t, 1234)
	e.fetch(t, s)
	e.fetch(t, s)
	if issued, rejected := e.srv.TokenStats(); issued != 1 || rejected != 0 {
		t.Fatalf("issued %d tokens with %d rejections, want 1 token reused and 0 rejections", issued, rejected)
	}
}

// A token whose remaining life is inside the early-expiry window is renewed before it is used,
// so EnKash never has to reject it.
func TestTokenRenewedBeforeExpiry(t *testing.T) {
	e := newEnv(t,
		func(c *sandbox.Config) { c.TokenLifetime = 30 * time.Second },
		func(c *Config) { c.TokenEarlyExpiry = time.Minute })
	_, s := e.create(t, 1234)
	e.fetch(t, s)
	e.fetch(t, s)
	if issued, rejected := e.srv.TokenStats(); issued != 3 || rejected != 0 {
		t.Fatalf("issued %d tokens with %d rejections, want a fresh token per call and 0 rejections", issued, rejected)
	}
}

// When the token dies early (the provider's clock runs ahead, or it revoked the token), the
// client renews it once and repeats the call.
func TestTokenRenewedOnceWhenRejected(t *testing.T) {
	e := newEnv(t, func(c *sandbox.Config) { c.TokenLifetime = 10 * time.Minute }, nil)
	_, s := e.create(t, 1234)
	e.clock.Advance(11 * time.Minute)
	if r := e.fetch(t, s); r.Status != providers.StatusPending {
		t.Fatalf("status %q", r.Status)
	}
	if issued, rejected := e.srv.TokenStats(); issued != 2 || rejected != 1 {
		t.Fatalf("issued %d tokens with %d rejections, want 2 and 1", issued, rejected)
	}
}

// An API that keeps refusing fresh tokens gets exactly one retry, then ErrAuth; the token never
// appears in the error.
func TestTokenRejectedTwiceIsAuthError(t *testing.T) {
	var tokenCalls, apiCalls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/api/v0/merchant/token" {
			n := tokenCalls.Add(1)
			fmt.Fprintf(w, `{"token":"tok-secret-%d","expiry":%d,"resultCode":200,"resultMessage":"ok"}`, n, time.Now().Add(time.Hour).UnixMilli())
			return
		}
		apiCalls.Add(1)
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"response_code":117,"response_message":"Unauthorized","payload":"Token is invalid."}`)
	}))
	defer srv.Close()
	p := New(Config{BaseURL: srv.URL + "/api/v0", AccessKey: "AK", SecretKey: "SK", Timeout: time.Second})
	_, err := p.FetchOrder(context.Background(), providers.Lookup{ProviderRef: "ORDER1"})
	if !errors.Is(err, providers.ErrAuth) {
		t.Fatalf("err %v, want ErrAuth", err)
	}
	if tokenCalls.Load() != 2 || apiCalls.Load() != 2 {
		t.Fatalf("%d token calls and %d API calls, want 2 and 2", tokenCalls.Load(), apiCalls.Load())
	}
	if strings.Contains(err.Error(), "tok-secret") {
		t.Fatalf("error leaks the token: %v", err)
	}
	var pe *providers.Error
	if !errors.As(err, &pe) || pe.Code != "117" {
		t.Fatalf("error %#v, want code 117", err)
	}
}

func TestCreateIsIdempotentPerReference(t *testing.T) {
	e := newEnv(t, nil, nil)
	o, s := e.create(t, 5000)
	again, err := e.p.CreateOrder(context.Background(), o)
	if err != nil {
		t.Fatalf("repeated create: %v", err)
	}
	if again.ProviderRef != s.ProviderRef || again.PayURL != s.PayURL {
		t.Fatalf("repeated create gave %+v, want %+v", again, s)
	}
	o.Amount = 6000
	if _, err := e.p.CreateOrder(context.Background(), o); !errors.Is(err, providers.ErrConflict) {
		t.Fatalf("same reference, other amount: %v, want ErrConflict", err)
	}
}

func TestCreateRefusesOtherCurrencies(t *testing.T) {
	e := newEnv(t, nil, nil)
	o := e.order(1000)
	o.Currency = "USD"
	if _, err := e.p.CreateOrder(context.Background(), o); !errors.Is(err, providers.ErrInvalid) {
		t.Fatalf("USD order: %v, want ErrInvalid", err)
	}
	if issued, _ := e.srv.TokenStats(); issued != 0 {
		t.Fatalf("a USD order reached EnKash")
	}
}

func TestReferenceThatIsNotAlphanumeric(t *testing.T) {
	e := newEnv(t, nil, nil)
	o := e.order(1000)
	o.Reference = "att_01J0-XYZ"
	s, err := e.p.CreateOrder(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if !validOrderID(s.ProviderRef) || !strings.HasPrefix(s.ProviderRef, "att01J0XYZ") {
		t.Fatalf("orderId %q", s.ProviderRef)
	}
	r, err := e.p.FetchOrder(context.Background(), providers.Lookup{Reference: o.Reference, Currency: "INR"})
	if err != nil || r.ProviderRef != s.ProviderRef {
		t.Fatalf("fetch by reference: %+v, %v", r, err)
	}
}

func TestReturnCarriesOrderAndStatus(t *testing.T) {
	e := newEnv(t, nil, nil)
	for _, tc := range []struct {
		action providertest.Action
		want   providers.Status
	}{
		{providertest.Pay, providers.StatusPaid},
		{providertest.Decline, providers.StatusDeclined},
		{providertest.Cancel, providers.StatusCancelled},
	} {
		t.Run(string(tc.action), func(t *testing.T) {
			_, s := e.create(t, 1234)
			back := e.act(t, s, tc.action)
			if back.Query().Get("outcome") != "return" {
				t.Fatalf("Kassa's own query lost: %s", back)
			}
			h := e.p.ParseReturn(back.Query())
			if h.ProviderRef != s.ProviderRef || h.Status != tc.want {
				t.Fatalf("hint %+v from %s, want %s %s", h, back, s.ProviderRef, tc.want)
			}
			if r := e.fetch(t, s); r.Status != tc.want {
				t.Fatalf("fetched %q, want %q", r.Status, tc.want)
			}
		})
	}
}

func TestDeclineReason(t *testing.T) {
	e := newEnv(t, nil, nil)
	_, s := e.create(t, 402_00)
	e.act(t, s, providertest.Pay)
	r := e.fetch(t, s)
	if r.Status != providers.StatusDeclined || r.PaymentID == "" || !strings.Contains(r.Reason, "issuer") {
		t.Fatalf("result %+v, want declined with the payment id and the issuer's reason", r)
	}
}

func TestPaidResultNamesThePayment(t *testing.T) {
	e := newEnv(t, nil, nil)
	_, s := e.create(t, 1234)
	e.act(t, s, providertest.Decline)
	e.act(t, s, providertest.Pay) // EnKash lets the shopper try again on the same order
	r := e.fetch(t, s)
	if r.Status != providers.StatusPaid || r.PaymentID == "" {
		t.Fatalf("result %+v", r)
	}
	pay, err := e.p.Client().GetPayment(context.Background(), r.PaymentID)
	if err != nil {
		t.Fatal(err)
	}
	if pay.Status != PaymentSuccess || pay.OrderID != s.ProviderRef || pay.Amount != "12.34" {
		t.Fatalf("payment %+v", pay)
	}
	if _, err := e.p.Client().GetPayment(context.Background(), "EKNOSUCHPAYMENT"); !errors.Is(err, providers.ErrNotFound) {
		t.Fatalf("unknown payment: %v, want ErrNotFound", err)
	}
}

func TestRefunds(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil, nil)
	paid := func(t *testing.T, amount int64) (providers.Order, providers.Session) {
		o, s := e.create(t, amount)
		e.act(t, s, providertest.Pay)
		return o, s
	}
	refund := func(s providers.Session, id string, amount int64) (providers.RefundResult, error) {
		return e.p.Refund(ctx, providers.Refund{Lookup: providers.Lookup{ProviderRef: s.ProviderRef, Currency: "INR"}, ID: id, Amount: amount, Reason: "test"})
	}
	refunded := func(t *testing.T, s providers.Session) string {
		t.Helper()
		r := e.fetch(t, s)
		p, err := e.p.Client().GetPayment(ctx, r.PaymentID)
		if err != nil {
			t.Fatal(err)
		}
		return string(p.RefundedAmount)
	}

	t.Run("full", func(t *testing.T) {
		_, s := paid(t, 100_00)
		r, err := refund(s, "rfFull"+s.ProviderRef, 100_00)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != providers.StatusRefunded || r.ProviderRef == "" {
			t.Fatalf("refund %+v", r)
		}
		if got := e.fetch(t, s); got.Status != providers.StatusRefunded || got.Amount != 100_00 {
			t.Fatalf("after a full refund: %+v", got)
		}
	})

	t.Run("partial, replayed, over-refund, rest", func(t *testing.T) {
		_, s := paid(t, 100_00)
		id := "rfPart" + s.ProviderRef
		first, err := refund(s, id, 30_00)
		if err != nil {
			t.Fatal(err)
		}
		if first.Status != providers.StatusRefunded {
			t.Fatalf("refund %+v", first)
		}
		if got := e.fetch(t, s); got.Status != providers.StatusPartiallyRefunded {
			t.Fatalf("after a partial refund: %q", got.Status)
		}
		replay, err := refund(s, id, 30_00)
		if err != nil {
			t.Fatalf("replayed refund: %v", err)
		}
		if replay != first {
			t.Fatalf("replay gave %+v, want the same refund %+v", replay, first)
		}
		if got := refunded(t, s); got != "30.00" {
			t.Fatalf("refunded %s after a replay, want 30.00", got)
		}
		if _, err := refund(s, id, 10_00); !errors.Is(err, providers.ErrConflict) {
			t.Fatalf("requestId reused for another amount: %v, want ErrConflict", err)
		}
		if _, err := refund(s, "rfOver"+s.ProviderRef, 70_01); !errors.Is(err, providers.ErrInvalid) {
			t.Fatalf("over-refund: %v, want ErrInvalid", err)
		}
		if got := refunded(t, s); got != "30.00" {
			t.Fatalf("refunded %s after refused refunds, want 30.00", got)
		}
		if _, err := refund(s, "rfRest"+s.ProviderRef, 70_00); err != nil {
			t.Fatalf("refunding the rest: %v", err)
		}
		if got := e.fetch(t, s); got.Status != providers.StatusRefunded {
			t.Fatalf("after refunding everything: %q", got.Status)
		}
		if _, err := refund(s, "rfMore"+s.ProviderRef, 1); !errors.Is(err, providers.ErrConflict) {
			t.Fatalf("refunding a refunded payment: %v, want ErrConflict", err)
		}
	})

	t.Run("unpaid order", func(t *testing.T) {
		_, s := e.create(t, 100_00)
		e.act(t, s, providertest.Decline)
		if _, err := refund(s, "rfUnpaid"+s.ProviderRef, 1_00); !errors.Is(err, providers.ErrConflict) {
			t.Fatalf("refunding a declined order: %v, want ErrConflict", err)
		}
	})

	t.Run("unknown order", func(t *testing.T) {
		if _, err := refund(providers.Session{ProviderRef: "NOSUCHORDER"}, "rfUnknown", 1_00); !errors.Is(err, providers.ErrNotFound) {
			t.Fatalf("refunding an unknown order: %v, want ErrNotFound", err)
		}
	})

	t.Run("bad input stays local", func(t *testing.T) {
		_, s := paid(t, 10_00)
		for _, r := range []providers.Refund{
			{Lookup: providers.Lookup{ProviderRef: s.ProviderRef}, ID: "", Amount: 1_00},
			{Lookup: providers.Lookup{ProviderRef: s.ProviderRef}, ID: "rfZero", Amount: 0},
			{Lookup: providers.Lookup{ProviderRef: s.ProviderRef, Currency: "USD"}, ID: "rfUSD", Amount: 1_00},
		} {
			if _, err := e.p.Refund(ctx, r); !errors.Is(err, providers.ErrInvalid) {
				t.Errorf("refund %+v: %v, want ErrInvalid", r, err)
			}
		}
	})
}

func TestCallbackNamesTheOrder(t *testing.T) {
	e := newEnv(t, nil, nil)
	o, s := e.create(t, 1234)
	e.act(t, s, providertest.Pay)
	e.notes.wait(t, 1)
	got := e.notes.deliveries()
	if len(got) != 1 || got[0].URL != o.NotifyURL {
		t.Fatalf("deliveries %+v, want one to %s", got, o.NotifyURL)
	}
	var n NotifyRequest
	if err := json.Unmarshal(got[0].Body, &n); err != nil {
		t.Fatal(err)
	}
	if n.OrderStatus != OrderPaid || n.TransactionStatus != PaymentSuccess || n.Amount != "12.34" || n.Checksum == "" {
		t.Fatalf("notification %+v", n)
	}
	h, err := e.p.ReadCallback(context.Background(), http.Header{}, got[0].Body)
	if err != nil {
		t.Fatal(err)
	}
	if h.ProviderRef != s.ProviderRef {
		t.Fatalf("callback names %q, want %q", h.ProviderRef, s.ProviderRef)
	}
}

func TestCallbackRetriedUntilAccepted(t *testing.T) {
	e := newEnv(t, nil, nil)
	e.notes.statuses = []int{500, 502}
	_, s := e.create(t, 1234)
	e.act(t, s, providertest.Decline)
	e.notes.wait(t, 3)
	e.srv.Close() // waits for the delivery goroutine
	got := e.notes.deliveries()
	if len(got) != 3 {
		t.Fatalf("%d deliveries, want 3 (two failures, then success)", len(got))
	}
	var n NotifyRequest
	if err := json.Unmarshal(got[2].Body, &n); err != nil || n.TransactionStatus != PaymentFailed || n.OrderStatus != OrderAttempted {
		t.Fatalf("notification %+v, %v", n, err)
	}
}

func TestReadCallbackRejectsJunk(t *testing.T) {
	p := New(Config{})
	for _, body := range []string{"", "null", "[]", `{"orderId":""}`, `{"orderId":"a b"}`, `{"orderId":"../x"}`, `{"status":"SUCCESS"}`, `{"orderId":` + strings.Repeat("1", 60) + `}`} {
		if _, err := p.ReadCallback(context.Background(), nil, []byte(body)); !errors.Is(err, providers.ErrInvalid) {
			t.Errorf("body %q: %v, want ErrInvalid", body, err)
		}
	}
}

func TestSecretsNeverLeak(t *testing.T) {
	const secret = "s3cr3t-value-that-must-not-leak"
	e := newEnv(t, nil, func(c *Config) { c.SecretKey = secret })
	_, err := e.p.CreateOrder(context.Background(), e.order(1000))
	if !errors.Is(err, providers.ErrAuth) {
		t.Fatalf("wrong secret: %v, want ErrAuth", err)
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	log.Info("enkash", "config", e.cfg, "secret", e.cfg.SecretKey, "err", err)
	log.Info("enkash", slog.Any("config", e.cfg))
	dumped, _ := json.Marshal(e.cfg)
	for _, s := range []string{
		err.Error(), fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err),
		fmt.Sprint(e.cfg), fmt.Sprintf("%+v", e.cfg), fmt.Sprintf("%#v", e.cfg), fmt.Sprintf("%s|%q|%x", e.cfg.SecretKey, e.cfg.SecretKey, e.cfg.SecretKey),
		e.cfg.SecretKey.String(), e.cfg.SecretKey.GoString(), string(dumped), logs.String(),
	} {
		if strings.Contains(s, secret) || strings.Contains(s, fmt.Sprintf("%x", secret)) {
			t.Fatalf("secret leaked into %q", s)
		}
	}
	if !strings.Contains(fmt.Sprintf("%v", e.cfg), "[redacted]") {
		t.Fatalf("config prints without [redacted]: %v", e.cfg)
	}
	if e.cfg.SecretKey.Reveal() != secret {
		t.Fatal("Reveal lost the secret")
	}
}

func TestTransportFailureIsUnavailable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close()
	p := New(Config{BaseURL: base + "/api/v0", AccessKey: "AK", SecretKey: "SK", Timeout: time.Second})
	_, err := p.FetchOrder(context.Background(), providers.Lookup{ProviderRef: "ORDER1"})
	if !errors.Is(err, providers.ErrUnavailable) {
		t.Fatalf("unreachable provider: %v, want ErrUnavailable", err)
	}
}

func TestRateLimitCarriesRetryAfter(t *testing.T) {
	e := newEnv(t, nil, nil)
	_, err := e.p.CreateOrder(context.Background(), e.order(providertest.MagicCreateRateLimited*100))
	var pe *providers.Error
	if !errors.As(err, &pe) || pe.Kind != providers.ErrRateLimited || pe.RetryAfter != time.Second || pe.Code != "150" {
		t.Fatalf("rate limited: %#v", err)
	}
}

func TestParseReturn(t *testing.T) {
	p := New(Config{})
	for _, tc := range []struct {
		query string
		want  providers.ReturnHint
	}{
		{"", providers.ReturnHint{}},
		{"orderId=ABC123&transactionId=EK1&status=SUCCESS", providers.ReturnHint{ProviderRef: "ABC123", Status: providers.StatusPaid}},
		{"orderId=ABC123&status=FAILED", providers.ReturnHint{ProviderRef: "ABC123", Status: providers.StatusDeclined}},
		{"orderId=ABC123&status=CANCELLED", providers.ReturnHint{ProviderRef: "ABC123", Status: providers.StatusCancelled}},
		{"orderId=ABC123&status=PENDING_WITH_BANK", providers.ReturnHint{ProviderRef: "ABC123"}},
		{"orderId=ABC123&status=WHATEVER", providers.ReturnHint{ProviderRef: "ABC123"}},
		{"orderId=a%20b&status=SUCCESS", providers.ReturnHint{Status: providers.StatusPaid}},
		{"orderId=" + strings.Repeat("A", 51), providers.ReturnHint{}},
		{"payment_status=success", providers.ReturnHint{Status: providers.StatusPaid}},
		{"payment_status=Failed", providers.ReturnHint{Status: providers.StatusDeclined}},
		{"payment_status=cancelled&orderId=X1", providers.ReturnHint{ProviderRef: "X1", Status: providers.StatusCancelled}},
		{"payment_status=pending", providers.ReturnHint{}},
	} {
		q, _ := url.ParseQuery(tc.query)
		if got := p.ParseReturn(q); got != tc.want {
			t.Errorf("ParseReturn(%q) = %+v, want %+v", tc.query, got, tc.want)
		}
	}
}

func FuzzParseReturn(f *testing.F) {
	for _, s := range []string{"", "orderId=ABC&status=SUCCESS", "payment_status=failed", "%zz", "orderId=%00&status=", "status=REFUNDED&orderId=" + strings.Repeat("9", 50)} {
		f.Add(s)
	}
	p := New(Config{})
	f.Fuzz(func(t *testing.T, raw string) {
		q, _ := url.ParseQuery(raw)
		h := p.ParseReturn(q)
		if h.ProviderRef != "" && !validOrderID(h.ProviderRef) {
			t.Fatalf("hint names an impossible order %q", h.ProviderRef)
		}
		if h.Status == providers.StatusPending {
			t.Fatalf("a return claims pending")
		}
	})
}

func FuzzReadCallback(f *testing.F) {
	for _, s := range []string{
		`{"orderId":"ABC123","status":"SUCCESS","amount":12.34,"checksum":"00"}`,
		`{"orderId":"ABC123","amount":"12.34","txnDate":"2024-01-01T00:00:00Z"}`,
		`{"orderId":"ABC123","amount":1e999}`,
		`{"orderId":12}`, `{}`, `[`, `null`,
	} {
		f.Add([]byte(s))
	}
	p := New(Config{})
	f.Fuzz(func(t *testing.T, body []byte) {
		h, err := p.ReadCallback(context.Background(), nil, body)
		if err != nil {
			if !errors.Is(err, providers.ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			return
		}
		if !validOrderID(h.ProviderRef) {
			t.Fatalf("accepted a callback naming %q", h.ProviderRef)
		}
	})
}
