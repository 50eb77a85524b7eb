package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kassa-pay/kassa/checkout"
	"github.com/kassa-pay/kassa/webhooks"
)

// runWorker delivers webhooks for the env until the test ends.
func (e *env) runWorker(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := &checkout.WebhookWorker{Service: e.svc, Sender: webhooks.New(webhooks.Config{AllowPrivate: true}), Poll: 20 * time.Millisecond,
		Schedule: []time.Duration{50 * time.Millisecond}}
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// The delivery log and redelivery, answered as the OpenAPI document says.
func TestOpenAPIMatchesLiveWebhookAnswers(t *testing.T) {
	e := newEnv(t)
	doc, _ := loadDoc(t)
	l := &liveDoc{t: t, doc: doc, v: &schemaValidator{root: doc}, e: e, seen: map[string]bool{}}
	ctx := context.Background()
	// The application's webhook URL is the env's own demo endpoint path on loopback; the
	// server refuses it until private addresses are allowed.
	access := e.dashboardToken(t)
	hook := e.srv.URL + "/merchant-hook"
	refused := l.expect(422, "PATCH", "/api/payment-applications/"+e.app.ClientID, access, `{"webhookUrl": "`+hook+`"}`)
	if errs, _ := refused["errors"].(map[string]any); errs["webhookUrl"] == nil || !strings.Contains(refused["errors"].(map[string]any)["webhookUrl"].([]any)[0].(string), "loopback") {
		t.Fatalf("loopback webhook URL: %v", refused)
	}
	l.expect(422, "POST", "/api/payment-applications", access, `{"name": "x", "webhookUrl": "http://169.254.169.254/latest"}`)
	l.expect(422, "POST", "/api/payment-applications", access, `{"name": "x", "webhookUrl": "http://2130706433/"}`)
	e.svc.WebhookAllowPrivate = true
	l.expect(200, "PATCH", "/api/payment-applications/"+e.app.ClientID, access, `{"webhookUrl": "`+hook+`"}`)

	p := l.expect(201, "POST", "/api/payment/checkout", e.token, e.createBody("1200"))
	id := p["id"].(string)
	l.expect(200, "POST", "/api/payment/"+id+"/cancel", e.token, "")
	got := l.expect(200, "GET", "/api/payment/"+id+"/webhook-deliveries", e.token, "")
	ds := got["deliveries"].([]any)
	if len(ds) != 1 || ds[0].(map[string]any)["type"] != "payment.cancelled" || ds[0].(map[string]any)["status"] != "pending" {
		t.Fatalf("deliveries %v", got)
	}
	deliveryID := ds[0].(map[string]any)["id"].(string)
	l.expect(404, "GET", "/api/payment/pay_nope/webhook-deliveries", e.token, "")
	l.expect(401, "GET", "/api/payment/"+id+"/webhook-deliveries", "", "")
	l.expect(401, "GET", "/api/payment/"+id+"/webhook-deliveries", access, "")

	// The endpoint (a 404 here: nothing serves /merchant-hook) fails every attempt.
	e.runWorker(t)
	waitUntil(t, "the delivery to fail", func() bool {
		ds, _ := e.svc.WebhookDeliveries(ctx, id)
		return ds[0].Status == checkout.DeliveryFailed
	})
	got = l.expect(200, "GET", "/api/payment/"+id+"/webhook-deliveries", e.token, "")
	d := got["deliveries"].([]any)[0].(map[string]any)
	if d["status"] != "failed" || len(d["attempts"].([]any)) != 2 || d["lastError"] != "HTTP 404" {
		t.Fatalf("failed delivery %v", d)
	}
	again := l.expect(202, "POST", "/api/webhook-deliveries/"+deliveryID+"/redeliver", access, "")
	if again["id"] != deliveryID || again["status"] != "pending" || again["nextAttemptAt"] == nil {
		t.Fatalf("redeliver answered %v", again)
	}
	l.expect(404, "POST", "/api/webhook-deliveries/msg_00000000000000000000000000/redeliver", access, "")
	l.expect(401, "POST", "/api/webhook-deliveries/"+deliveryID+"/redeliver", e.token, "")
	for _, must := range []string{"GET /api/payment/{id}/webhook-deliveries 200", "GET /api/payment/{id}/webhook-deliveries 404",
		"POST /api/webhook-deliveries/{id}/redeliver 202", "POST /api/webhook-deliveries/{id}/redeliver 404"} {
		if !l.seen[must] {
			t.Errorf("no live answer exercised %s", must)
		}
	}
}

// The demo store is a merchant: its endpoint verifies each webhook and its order page says
// what arrived.
func TestDemoStoreReceivesVerifiedWebhooks(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.svc.WebhookAllowPrivate = true
	demo, err := e.svc.NewApp(ctx, "Demo store", e.srv.URL+"/demo/webhooks")
	if err != nil {
		t.Fatal(err)
	}
	e.server.DemoClientID, e.server.DemoStore = demo.ClientID, e.store
	e.runWorker(t)

	_, store := e.page(t, "/")
	m := csrfField.FindStringSubmatch(store)
	if m == nil {
		t.Fatalf("no CSRF field on the store:\n%s", store)
	}
	buy, _ := http.NewRequest("POST", e.srv.URL+"/buy", strings.NewReader(url.Values{"currency": {"USD"}, "csrf_token": {m[1]}}.Encode()))
	buy.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	buy.Header.Set("Origin", e.srv.URL)
	resp, err := e.client.Do(buy)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("buy: %d", resp.StatusCode)
	}
	paymentID := strings.TrimPrefix(resp.Header.Get("Location"), "/checkout/")
	p, err := e.svc.Payment(ctx, paymentID)
	if err != nil || !strings.HasSuffix(p.SuccessURL, "/orders/"+p.Reference) {
		t.Fatalf("demo payment %+v %v", p, err)
	}
	status, body := e.page(t, "/orders/"+p.Reference)
	if status != 200 || !strings.Contains(body, "Waiting for the payment.paid webhook") {
		t.Fatalf("order page before any webhook: %d\n%s", status, body)
	}
	// A forged webhook is refused and shown as such.
	forged, _ := http.NewRequest("POST", e.srv.URL+"/demo/webhooks", strings.NewReader(`{"type":"payment.paid","timestamp":"2026-11-30T00:00:00Z","data":{"id":"`+p.ID+`"}}`))
	forged.Header.Set("webhook-id", "msg_forged")
	forged.Header.Set("webhook-timestamp", "1764460800")
	forged.Header.Set("webhook-signature", "v1,bm90IGEgc2lnbmF0dXJl")
	if resp, err := http.DefaultClient.Do(forged); err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("forged webhook: %v %v", resp, err)
	}
	if _, err := e.svc.CancelPayment(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the webhook to arrive", func() bool {
		ws, _ := e.store.DemoWebhooks(ctx, p.ID)
		for _, w := range ws {
			if w.Type == "payment.cancelled" && w.Verified {
				return true
			}
		}
		return false
	})
	_, body = e.page(t, "/orders/"+p.Reference)
	if !strings.Contains(body, "payment.cancelled") || !strings.Contains(body, "verified") || strings.Contains(body, "msg_forged") {
		t.Fatalf("order page:\n%s", body)
	}

	// A payment.paid webhook signed with the demo application's secret is what the page
	// waits for.
	raw := []byte(`{"type":"payment.paid","timestamp":"2026-11-30T00:00:00Z","data":{"id":"` + p.ID + `"}}`)
	now := time.Now()
	sig, _ := webhooks.Sign("msg_paid", now, raw, []string{demo.WebhookSecret.Reveal()})
	req, _ := http.NewRequest("POST", e.srv.URL+"/demo/webhooks", strings.NewReader(string(raw)))
	req.Header.Set("webhook-id", "msg_paid")
	req.Header.Set("webhook-timestamp", strconvI(now.Unix()))
	req.Header.Set("webhook-signature", sig)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("signed webhook: %v %v", resp, err)
	}
	_, body = e.page(t, "/orders/"+p.Reference)
	if !strings.Contains(body, "The payment.paid webhook arrived and its signature verified") {
		t.Fatalf("order page after payment.paid:\n%s", body)
	}
	if status, _ := e.page(t, "/orders/DEMO-NOPE"); status != http.StatusNotFound {
		t.Fatalf("unknown order: %d", status)
	}
}

func strconvI(n int64) string { return strconv.FormatInt(n, 10) }
