package dashboard_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/kassa-pay/kassa/checkout"
	"github.com/kassa-pay/kassa/webhooks"
)

// A failing endpoint's delivery shows on its payment's and its application's pages and on
// the overview; Resend queues it again under the same webhook-id; a 410 shows the endpoint off.
func TestWebhookDeliveriesAndResend(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var mu sync.Mutex
	status := http.StatusInternalServerError
	url1 := newHookReceiver(t, func() int { mu.Lock(); defer mu.Unlock(); return status })
	e.svc.WebhookAllowPrivate = true
	if _, err := e.svc.UpdateApp(ctx, e.app.ClientID, checkout.AppPatch{WebhookURL: &url1}); err != nil {
		t.Fatal(err)
	}
	p, err := e.svc.CreatePayment(ctx, checkout.NewPayment{ClientID: e.app.ClientID, Amount: 900, Currency: "USD", Reference: "HOOK-1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CancelPayment(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	w := &checkout.WebhookWorker{Service: e.svc, Sender: webhooks.New(webhooks.Config{AllowPrivate: true}), Schedule: []time.Duration{},
		Poll: 10 * time.Millisecond}
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { w.Run(wctx); close(done) }()
	defer func() { cancel(); <-done }()
	var d checkout.Delivery
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		ds, _ := e.svc.WebhookDeliveries(ctx, p.ID)
		if len(ds) == 1 && ds[0].Status == checkout.DeliveryFailed {
			d = ds[0]
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the delivery did not fail")
		}
	}
	b := e.browser(t)
	b.signIn()
	want(t, b.get("/dashboard"), http.StatusOK, "Failed webhook deliveries", ">1<")
	want(t, b.get("/dashboard/payments/"+p.ID), http.StatusOK, "Webhook deliveries", "payment.cancelled", d.ID, "HTTP 500", "Resend")
	appPage := "/dashboard/apps/" + e.app.ClientID
	want(t, b.get(appPage), http.StatusOK, "Recent webhook deliveries", d.ID, "Resend")

	mu.Lock()
	status = http.StatusGone // the resent webhook is answered 410: the endpoint goes off
	mu.Unlock()
	a := b.post("/dashboard/webhook-deliveries/"+d.ID+"/resend", url.Values{"back": {appPage}})
	if a.status != http.StatusSeeOther || a.header.Get("Location") != appPage {
		t.Fatalf("resend: %d %s", a.status, a.header.Get("Location"))
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		got, _ := e.svc.Store.FindDelivery(ctx, d.ID)
		if len(got.Attempts) == 2 && got.Status == checkout.DeliveryFailed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the resent delivery was not attempted: %+v", got)
		}
	}
	want(t, b.get(appPage), http.StatusOK, "Webhooks are off", "410")
	// An outside address to come back to is not followed.
	a = b.post("/dashboard/webhook-deliveries/"+d.ID+"/resend", url.Values{"back": {"//evil.example/"}})
	if a.header.Get("Location") != "/dashboard/payments/"+p.ID {
		t.Fatalf("resend with an outside back: %s", a.header.Get("Location"))
	}
	want(t, b.post("/dashboard/webhook-deliveries/msg_nope/resend", nil), http.StatusNotFound)
}

// newHookReceiver serves a merchant endpoint answering status() and returns its URL.
func newHookReceiver(t *testing.T, status func() int) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(status()) }))
	t.Cleanup(srv.Close)
	return srv.URL + "/hook"
}
