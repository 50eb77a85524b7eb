package checkout_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/kassa-pay/kassa/checkout"
	"github.com/kassa-pay/kassa/db"
	"github.com/kassa-pay/kassa/providers"
	"github.com/kassa-pay/kassa/webhooks"
)

// received is one request a test receiver got.
type received struct {
	ID, Timestamp, Signature string
	Body                     []byte
}

// receiver is a merchant's webhook endpoint: it records every request and answers what the
// test says (200 by default).
type receiver struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	got    []received
	answer func(n int, w http.ResponseWriter) // n counts requests so far, from 1
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{t: t}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.got = append(r.got, received{req.Header.Get("webhook-id"), req.Header.Get("webhook-timestamp"), req.Header.Get("webhook-signature"), body})
	n, answer := len(r.got), r.answer
	r.mu.Unlock()
	if answer != nil {
		answer(n, w)
	}
}

func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

// whFixture is Kassa's domain on a real SQLite file, with an application whose webhook URL
// is a receiver in the test.
type whFixture struct {
	path string
	db   *db.DB
	svc  *checkout.Service
	fake *fakeProvider
	app  *checkout.App
}

func newWebhookFixture(t *testing.T, url string) *whFixture {
	t.Helper()
	fx := &whFixture{path: filepath.Join(t.TempDir(), "kassa.db"), fake: newFake()}
	fx.open(t)
	var err error
	if fx.app, err = fx.svc.NewApp(context.Background(), "Shop", url); err != nil {
		t.Fatal(err)
	}
	return fx
}

// open opens (or reopens, as a restarted process would) the database and a fresh Service.
func (fx *whFixture) open(t *testing.T) {
	t.Helper()
	d, err := db.Open(context.Background(), "sqlite:"+fx.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	fx.db = d
	fx.svc = &checkout.Service{Store: d, Providers: providers.NewRegistry(fx.fake), URLs: checkout.URLs{Base: "https://kassa.test"},
		WebhookAllowPrivate: true, Log: quietLog()}
}

func (fx *whFixture) worker(schedule ...time.Duration) *checkout.WebhookWorker {
	return &checkout.WebhookWorker{Service: fx.svc, Sender: webhooks.New(webhooks.Config{AllowPrivate: true, Timeout: 2 * time.Second}),
		Schedule: schedule, Poll: 20 * time.Millisecond, Jitter: func(d time.Duration) time.Duration { return d }}
}

// run starts w and returns a func that stops it and waits until it has.
func run(t *testing.T, w *checkout.WebhookWorker) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

// cancelled creates a payment of app and cancels it: one payment.cancelled event.
func (fx *whFixture) cancelled(t *testing.T, clientID string) *checkout.Payment {
	t.Helper()
	ctx := context.Background()
	p, err := fx.svc.CreatePayment(ctx, checkout.NewPayment{ClientID: clientID, Amount: 1500, Currency: "USD", Reference: "ORDER-9"})
	if err != nil {
		t.Fatal(err)
	}
	if p, err = fx.svc.CancelPayment(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	return p
}

func (fx *whFixture) deliveries(t *testing.T, paymentID string) []checkout.Delivery {
	t.Helper()
	ds, err := fx.svc.WebhookDeliveries(context.Background(), paymentID)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// waitFor polls cond until it holds; the deadline is generous for a loaded machine.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (fx *whFixture) delivered(t *testing.T, paymentID string) func() bool {
	return func() bool {
		ds := fx.deliveries(t, paymentID)
		return len(ds) == 1 && ds[0].Status == checkout.DeliveryDelivered
	}
}

func TestWebhookDeliveredSignedWithThePaymentAsTheAPIShowsIt(t *testing.T) {
	rc := newReceiver(t)
	fx := newWebhookFixture(t, rc.srv.URL+"/kassa")
	run(t, fx.worker())
	p := fx.cancelled(t, fx.app.ClientID)
	waitFor(t, "the delivery", fx.delivered(t, p.ID))

	d := fx.deliveries(t, p.ID)[0]
	reqs := rc.requests()
	if len(reqs) != 1 || reqs[0].ID != d.ID || !strings.HasPrefix(d.ID, "msg_") || d.Type != "payment.cancelled" {
		t.Fatalf("receiver got %+v for delivery %+v", reqs, d)
	}
	h := http.Header{}
	h.Set("webhook-id", reqs[0].ID)
	h.Set("webhook-timestamp", reqs[0].Timestamp)
	h.Set("webhook-signature", reqs[0].Signature)
	wh, _ := standardwebhooks.NewWebhook(fx.app.WebhookSecret.Reveal())
	if err := wh.Verify(reqs[0].Body, h); err != nil {
		t.Fatalf("signature: %v", err)
	}
	var body struct {
		Type      string          `json:"type"`
		Timestamp time.Time       `json:"timestamp"`
		Data      json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(reqs[0].Body, &body); err != nil || body.Type != "payment.cancelled" || !body.Timestamp.Equal(d.EventAt) {
		t.Fatalf("body %s: %v", reqs[0].Body, err)
	}
	cur, _ := fx.svc.Payment(context.Background(), p.ID)
	want, _ := json.Marshal(fx.svc.View(cur))
	if string(body.Data) != string(want) {
		t.Fatalf("data is not the payment as GET /api/payment/:id shows it:\n got %s\nwant %s", body.Data, want)
	}
	if len(d.Attempts) != 1 || d.Attempts[0].HTTPStatus != 200 || d.DeliveredAt.IsZero() {
		t.Fatalf("delivery log %+v", d)
	}
}

// 500, then a timeout, then 200: three attempts of one webhook-id with the very same body.
func TestWebhookRetriesAfterErrorsAndTimeouts(t *testing.T) {
	rc := newReceiver(t)
	release := make(chan struct{})
	defer close(release)
	rc.answer = func(n int, w http.ResponseWriter) {
		switch n {
		case 1:
			http.Error(w, "boom", http.StatusInternalServerError)
		case 2:
			<-release // longer than the sender's 2 s timeout
		}
	}
	fx := newWebhookFixture(t, rc.srv.URL)
	run(t, fx.worker(50*time.Millisecond, 50*time.Millisecond, 50*time.Millisecond))
	p := fx.cancelled(t, fx.app.ClientID)
	waitFor(t, "the delivery", fx.delivered(t, p.ID))
	d := fx.deliveries(t, p.ID)[0]
	if len(d.Attempts) != 3 || d.Attempts[0].HTTPStatus != 500 || d.Attempts[0].Response != "boom\n" ||
		d.Attempts[1].HTTPStatus != 0 || !strings.Contains(d.Attempts[1].Error, "timed out") || d.Attempts[2].HTTPStatus != 200 {
		t.Fatalf("attempts %+v", d.Attempts)
	}
	reqs := rc.requests()
	for _, r := range reqs {
		if r.ID != d.ID || string(r.Body) != string(reqs[0].Body) {
			t.Fatalf("retry sent id %s body %s, first was %s %s", r.ID, r.Body, reqs[0].ID, reqs[0].Body)
		}
	}
}

func TestWebhookHonoursRetryAfter(t *testing.T) {
	rc := newReceiver(t)
	rc.answer = func(n int, w http.ResponseWriter) {
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	fx := newWebhookFixture(t, rc.srv.URL)
	run(t, fx.worker(50*time.Millisecond))
	p := fx.cancelled(t, fx.app.ClientID)
	waitFor(t, "the first attempt", func() bool { ds := fx.deliveries(t, p.ID); return len(ds) == 1 && len(ds[0].Attempts) == 1 })
	d := fx.deliveries(t, p.ID)[0]
	if wait := d.NextAttemptAt.Sub(d.Attempts[0].At); d.Status != checkout.DeliveryPending || wait < time.Hour-time.Second {
		t.Fatalf("after 503 with Retry-After: 3600 the next attempt is %s later (status %s), want an hour", wait, d.Status)
	}
}

// The schedule ends in failed; a redelivery sends again under the same webhook-id.
func TestWebhookFailsAfterScheduleThenRedelivers(t *testing.T) {
	rc := newReceiver(t)
	var mu sync.Mutex
	status := http.StatusBadGateway
	rc.answer = func(n int, w http.ResponseWriter) { mu.Lock(); defer mu.Unlock(); w.WriteHeader(status) }
	fx := newWebhookFixture(t, rc.srv.URL)
	run(t, fx.worker(20*time.Millisecond, 20*time.Millisecond))
	p := fx.cancelled(t, fx.app.ClientID)
	waitFor(t, "failure", func() bool {
		ds := fx.deliveries(t, p.ID)
		return len(ds) == 1 && ds[0].Status == checkout.DeliveryFailed
	})
	d := fx.deliveries(t, p.ID)[0]
	if len(d.Attempts) != 3 || d.LastError != "HTTP 502" {
		t.Fatalf("a schedule of two retries made %d attempts: %+v", len(d.Attempts), d)
	}
	failed, _ := fx.svc.FailedDeliveries(context.Background(), time.Time{}, 10)
	if len(failed) != 1 || failed[0].ID != d.ID {
		t.Fatalf("failed deliveries %+v", failed)
	}
	mu.Lock()
	status = http.StatusOK
	mu.Unlock()
	if _, err := fx.svc.Redeliver(context.Background(), d.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "redelivery", fx.delivered(t, p.ID))
	reqs := rc.requests()
	if len(reqs) != 4 || reqs[3].ID != d.ID || string(reqs[3].Body) != string(reqs[0].Body) {
		t.Fatalf("redelivery: %d requests, last %+v", len(reqs), reqs[len(reqs)-1])
	}
	if _, err := fx.svc.Redeliver(context.Background(), "msg_nope"); checkout.ErrorCode(err) != checkout.ENOTFOUND {
		t.Fatalf("redeliver unknown: %v", err)
	}
}

// 410 Gone disables the endpoint: no more deliveries are queued until the URL is set again.
func TestWebhookGoneDisablesTheEndpoint(t *testing.T) {
	rc := newReceiver(t)
	var mu sync.Mutex
	status := http.StatusGone
	rc.answer = func(n int, w http.ResponseWriter) { mu.Lock(); defer mu.Unlock(); w.WriteHeader(status) }
	fx := newWebhookFixture(t, rc.srv.URL)
	run(t, fx.worker(20*time.Millisecond, 20*time.Millisecond))
	ctx := context.Background()
	p := fx.cancelled(t, fx.app.ClientID)
	waitFor(t, "failure", func() bool {
		ds := fx.deliveries(t, p.ID)
		return len(ds) == 1 && ds[0].Status == checkout.DeliveryFailed
	})
	if n := len(fx.deliveries(t, p.ID)[0].Attempts); n != 1 {
		t.Fatalf("410 was retried: %d attempts", n)
	}
	app, _ := fx.svc.App(ctx, fx.app.ClientID)
	if app.WebhookDisabledAt.IsZero() || !strings.Contains(app.WebhookDisabledReason, "410") {
		t.Fatalf("app after 410: %+v", app)
	}
	if p2 := fx.cancelled(t, fx.app.ClientID); len(fx.deliveries(t, p2.ID)) != 0 {
		t.Fatal("a delivery was queued for a disabled endpoint")
	}
	mu.Lock()
	status = http.StatusNoContent
	mu.Unlock()
	url := rc.srv.URL
	if app, err := fx.svc.UpdateApp(ctx, fx.app.ClientID, checkout.AppPatch{WebhookURL: &url}); err != nil || !app.WebhookDisabledAt.IsZero() {
		t.Fatalf("setting the URL again: %+v %v", app, err)
	}
	p3 := fx.cancelled(t, fx.app.ClientID)
	waitFor(t, "delivery after re-enabling", fx.delivered(t, p3.ID))
}

// Kassa stops while the receiver is down, a fresh process (database handle, Service, worker)
// starts on the same file, the receiver comes up: every event arrives, each under one id.
func TestWebhooksSurviveARestart(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // down: connections are refused
	fx := newWebhookFixture(t, "http://"+addr+"/hook")
	stop := run(t, fx.worker(100*time.Millisecond, 200*time.Millisecond, 200*time.Millisecond, 200*time.Millisecond, time.Second, time.Second, time.Second))
	var ids []string
	for range 5 {
		ids = append(ids, fx.cancelled(t, fx.app.ClientID).ID)
	}
	waitFor(t, "failed first attempts", func() bool {
		for _, id := range ids {
			if ds := fx.deliveries(t, id); len(ds) != 1 || len(ds[0].Attempts) == 0 {
				return false
			}
		}
		return true
	})
	stop()
	fx.db.Close()

	fx.open(t)
	rc := &receiver{t: t}
	var lerr error
	for range 50 { // the port was just freed; take it back
		if ln, lerr = net.Listen("tcp", addr); lerr == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if lerr != nil {
		t.Fatal(lerr)
	}
	rc.srv = &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(rc.serve)}}
	rc.srv.Start()
	defer rc.srv.Close()
	run(t, fx.worker(100*time.Millisecond, 200*time.Millisecond, 200*time.Millisecond, 200*time.Millisecond, time.Second, time.Second, time.Second))
	want := map[string]bool{}
	for _, id := range ids {
		waitFor(t, "delivery after restart", fx.delivered(t, id))
		want[fx.deliveries(t, id)[0].ID] = true
	}
	got := map[string]bool{}
	for _, r := range rc.requests() {
		if !want[r.ID] {
			t.Fatalf("receiver got unknown webhook-id %s", r.ID)
		}
		got[r.ID] = true
	}
	if len(got) != len(ids) || len(want) != len(ids) {
		t.Fatalf("%d events, %d delivery ids, %d received", len(ids), len(want), len(got))
	}
}

// Racing verifications make one payment.paid event and so exactly one payment.paid delivery.
func TestRacingVerificationsQueueOnePaidWebhook(t *testing.T) {
	fx := newWebhookFixture(t, "https://shop.example/kassa")
	ctx := context.Background()
	p, err := fx.svc.CreatePayment(ctx, checkout.NewPayment{ClientID: fx.app.ClientID, Amount: 2500, Currency: "USD", Reference: "R-1"})
	if err != nil {
		t.Fatal(err)
	}
	a, err := fx.svc.StartAttempt(ctx, p.ID, checkout.Choice{Provider: "fake"})
	if err != nil {
		t.Fatal(err)
	}
	fx.fake.set(a.ProviderRef, providers.StatusPaid)
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() { defer wg.Done(); fx.svc.Verify(ctx, p.ID, a.ID) }()
	}
	wg.Wait()
	var paid []checkout.Delivery
	for _, d := range fx.deliveries(t, p.ID) {
		if d.Type == checkout.WebhookPaymentPaid {
			paid = append(paid, d)
		}
	}
	if len(paid) != 1 || len(fx.deliveries(t, p.ID)) != 1 {
		t.Fatalf("%d payment.paid deliveries (%d in all) from 20 racing verifications, want exactly 1", len(paid), len(fx.deliveries(t, p.ID)))
	}
}

// A second paid attempt is announced as payment.paid_twice.
func TestPaidTwiceIsAnnounced(t *testing.T) {
	fx := newWebhookFixture(t, "https://shop.example/kassa")
	ctx := context.Background()
	p, _ := fx.svc.CreatePayment(ctx, checkout.NewPayment{ClientID: fx.app.ClientID, Amount: 2500, Currency: "USD", Reference: "R-2"})
	// The first order is declined, a second one paid, then the first paid late.
	a1, err := fx.svc.StartAttempt(ctx, p.ID, checkout.Choice{Provider: "fake"})
	if err != nil {
		t.Fatal(err)
	}
	fx.fake.set(a1.ProviderRef, providers.StatusDeclined)
	fx.svc.Verify(ctx, p.ID, a1.ID)
	a2, err := fx.svc.StartAttempt(ctx, p.ID, checkout.Choice{Provider: "fake"})
	if err != nil {
		t.Fatal(err)
	}
	fx.fake.set(a2.ProviderRef, providers.StatusPaid)
	fx.svc.Verify(ctx, p.ID, a2.ID)
	fx.fake.set(a1.ProviderRef, providers.StatusPaid)
	fx.svc.Verify(ctx, p.ID, a1.ID)
	var types []string
	for _, d := range fx.deliveries(t, p.ID) {
		types = append(types, d.Type)
	}
	if strings.Join(types, " ") != "payment.paid payment.paid_twice" {
		t.Fatalf("deliveries %v", types)
	}
}

// No URL, no delivery: an application that polls is not sent a backlog later.
func TestNoWebhookURLQueuesNothing(t *testing.T) {
	fx := newWebhookFixture(t, "")
	if p := fx.cancelled(t, fx.app.ClientID); len(fx.deliveries(t, p.ID)) != 0 {
		t.Fatal("a delivery was queued for an application without a webhook URL")
	}
}

// A dead endpoint holds at most its share of the pool: another merchant's webhook is
// delivered while the dead one's requests hang.
func TestDeadEndpointDoesNotDelayOthers(t *testing.T) {
	hang := make(chan struct{})
	defer close(hang)
	dead := newReceiver(t)
	dead.answer = func(int, http.ResponseWriter) { <-hang }
	alive := newReceiver(t)
	fx := newWebhookFixture(t, dead.srv.URL)
	other, err := fx.svc.NewApp(context.Background(), "Other shop", alive.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	w := fx.worker(time.Hour)
	w.Workers, w.PerEndpoint = 4, 2
	w.Sender = webhooks.New(webhooks.Config{AllowPrivate: true, Timeout: time.Hour}) // the dead one never times out here
	for range 10 {
		fx.cancelled(t, fx.app.ClientID)
	}
	run(t, w)
	waitFor(t, "the dead endpoint to be busy", func() bool { return len(dead.requests()) == 2 })
	p := fx.cancelled(t, other.ClientID)
	waitFor(t, "the other merchant's delivery", fx.delivered(t, p.ID))
	if n := len(dead.requests()); n != 2 {
		t.Fatalf("the dead endpoint got %d requests at once, want PerEndpoint = 2", n)
	}
}

// Two workers on two database handles (two processes) share the outbox: every delivery is
// sent once.
func TestTwoWorkersSendEachDeliveryOnce(t *testing.T) {
	rc := newReceiver(t)
	fx := newWebhookFixture(t, rc.srv.URL)
	second, err := db.Open(context.Background(), "sqlite:"+fx.path)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	svc2 := &checkout.Service{Store: second, URLs: fx.svc.URLs, Log: quietLog()}
	w2 := fx.worker()
	w2.Service = svc2
	run(t, fx.worker())
	run(t, w2)
	var ids []string
	for range 20 {
		ids = append(ids, fx.cancelled(t, fx.app.ClientID).ID)
	}
	for _, id := range ids {
		waitFor(t, "delivery", fx.delivered(t, id))
	}
	seen := map[string]int{}
	for _, r := range rc.requests() {
		seen[r.ID]++
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s sent %d times", id, n)
		}
	}
	if len(seen) != 20 {
		t.Fatalf("%d distinct webhooks received, want 20", len(seen))
	}
}

// After a rotation, webhooks carry two signatures for a day: a receiver still holding the
// old secret verifies them, and so does one with the new.
func TestRotationSignsWithBothSecrets(t *testing.T) {
	rc := newReceiver(t)
	fx := newWebhookFixture(t, rc.srv.URL)
	old := fx.app.WebhookSecret
	rotated, err := fx.svc.RotateWebhookSecret(context.Background(), fx.app.ClientID)
	if err != nil || rotated.PreviousWebhookSecret != old || rotated.WebhookSecretRotatedAt.IsZero() {
		t.Fatalf("rotate: %+v %v", rotated, err)
	}
	run(t, fx.worker())
	p := fx.cancelled(t, fx.app.ClientID)
	waitFor(t, "delivery", fx.delivered(t, p.ID))
	r := rc.requests()[0]
	if len(strings.Fields(r.Signature)) != 2 {
		t.Fatalf("signature header %q, want two", r.Signature)
	}
	h := http.Header{}
	h.Set("webhook-id", r.ID)
	h.Set("webhook-timestamp", r.Timestamp)
	h.Set("webhook-signature", r.Signature)
	for _, s := range []checkout.Secret{old, rotated.WebhookSecret} {
		wh, _ := standardwebhooks.NewWebhook(s.Reveal())
		if err := wh.Verify(r.Body, h); err != nil {
			t.Errorf("verify: %v", err)
		}
	}
	if got := rotated.SigningSecrets(rotated.WebhookSecretRotatedAt.Add(checkout.SecretOverlap)); len(got) != 1 {
		t.Fatalf("a day after the rotation %d secrets still sign", len(got))
	}
}

// Webhook URLs that reach into Kassa's own network are refused when set, unless allowed.
func TestWebhookURLGuardedWhenSet(t *testing.T) {
	fx := newWebhookFixture(t, "")
	fx.svc.WebhookAllowPrivate = false
	ctx := context.Background()
	for _, u := range []string{"http://127.0.0.1:8080/", "http://localhost/", "http://169.254.169.254/", "http://[::ffff:10.0.0.1]/", "http://2130706433/", "ftp://shop.example/"} {
		if _, err := fx.svc.NewApp(ctx, "Bad", u); checkout.ErrorCode(err) != checkout.EINVALID {
			t.Errorf("NewApp with %s: %v", u, err)
		}
		if _, err := fx.svc.UpdateApp(ctx, fx.app.ClientID, checkout.AppPatch{WebhookURL: &u}); checkout.ErrorCode(err) != checkout.EINVALID {
			t.Errorf("UpdateApp with %s: %v", u, err)
		}
	}
	fx.svc.WebhookAllowPrivate = true
	if _, err := fx.svc.NewApp(ctx, "Local", "http://127.0.0.1:8080/"); err != nil {
		t.Fatalf("allowed private: %v", err)
	}
}

func TestPruneDeliveredRows(t *testing.T) {
	rc := newReceiver(t)
	fx := newWebhookFixture(t, rc.srv.URL)
	stop := run(t, fx.worker())
	p := fx.cancelled(t, fx.app.ClientID)
	waitFor(t, "delivery", fx.delivered(t, p.ID))
	stop()
	if n, err := fx.db.PruneDeliveries(context.Background(), time.Now().Add(-time.Hour), 10); err != nil || n != 0 {
		t.Fatalf("pruned a fresh row: %d %v", n, err)
	}
	if n, err := fx.db.PruneDeliveries(context.Background(), time.Now().Add(time.Hour), 10); err != nil || n != 1 || len(fx.deliveries(t, p.ID)) != 0 {
		t.Fatalf("prune: %d %v", n, err)
	}
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// An endpoint that fails is sent one request at a time until it recovers: its retries never
// overlap, so a failing merchant holds one slot of the pool.
func TestFailingEndpointGetsOneSlot(t *testing.T) {
	var inflight, retryOverlap atomic.Int32
	seen := map[string]bool{}
	var mu sync.Mutex
	rc := newReceiver(t)
	fx := newWebhookFixture(t, rc.srv.URL)
	rc.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cur := inflight.Add(1)
		defer inflight.Add(-1)
		mu.Lock()
		retry := seen[r.Header.Get("webhook-id")]
		seen[r.Header.Get("webhook-id")] = true
		mu.Unlock()
		if retry && cur > 1 {
			retryOverlap.Add(1)
		}
		time.Sleep(20 * time.Millisecond)
		w.WriteHeader(http.StatusInternalServerError)
	})
	var ids []string
	for range 10 {
		ids = append(ids, fx.cancelled(t, fx.app.ClientID).ID)
	}
	run(t, fx.worker(10*time.Millisecond, 10*time.Millisecond))
	for _, id := range ids {
		waitFor(t, "failure", func() bool { ds := fx.deliveries(t, id); return ds[0].Status == checkout.DeliveryFailed })
	}
	if n := retryOverlap.Load(); n != 0 {
		t.Fatalf("%d retries to a failing endpoint overlapped another request", n)
	}
}

// Refunds are announced, with the payment's refundedAmount and refunds in the data.
func TestRefundsAreAnnounced(t *testing.T) {
	rc := newReceiver(t)
	fx := newWebhookFixture(t, rc.srv.URL)
	ctx := context.Background()
	p, _ := fx.svc.CreatePayment(ctx, checkout.NewPayment{ClientID: fx.app.ClientID, Amount: 2500, Currency: "USD", Reference: "R-3"})
	a, _ := fx.svc.StartAttempt(ctx, p.ID, checkout.Choice{Provider: "fake"})
	fx.fake.set(a.ProviderRef, providers.StatusPaid)
	fx.svc.Verify(ctx, p.ID, a.ID)
	for _, amount := range []int64{1000, 0} { // part, then the rest
		r, err := fx.svc.CreateRefund(ctx, p.ID, checkout.NewRefund{Amount: amount, Reason: "requested_by_customer", RequestedBy: "test"})
		if err != nil {
			t.Fatal(err)
		}
		if r.Status == checkout.RefundManual {
			if _, err := fx.svc.ConfirmRefund(ctx, r.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	run(t, fx.worker())
	waitFor(t, "three deliveries", func() bool {
		ds := fx.deliveries(t, p.ID)
		for _, d := range ds {
			if d.Status != checkout.DeliveryDelivered {
				return false
			}
		}
		return len(ds) == 3
	})
	got := map[string]int64{}
	for _, r := range rc.requests() {
		var body struct {
			Type string `json:"type"`
			Data struct {
				RefundedAmount int64             `json:"refundedAmount"`
				Refunds        []json.RawMessage `json:"refunds"`
			} `json:"data"`
		}
		if err := json.Unmarshal(r.Body, &body); err != nil {
			t.Fatal(err)
		}
		got[body.Type] = body.Data.RefundedAmount
	}
	if len(got) != 3 || got["payment.partially_refunded"] < 1000 || got["payment.refunded"] != 2500 {
		t.Fatalf("refund webhooks: %v", got)
	}
}
