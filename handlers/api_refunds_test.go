package handlers_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kassa-pay/kassa/checkout"
	"github.com/kassa-pay/kassa/providers"
	"github.com/kassa-pay/kassa/providers/providertest"
)

// paidVia creates a payment of amount in cur through the API, pays it at provider on the
// sandbox's own page and verifies it, as a shopper's return would.
func (e *env) paidVia(t *testing.T, provider providers.ID, amount int64, cur string) string {
	t.Helper()
	ctx := context.Background()
	body := `{"amount": ` + strconv.FormatInt(amount, 10) + `, "currencyCode": "` + cur + `", "reference": "R-` + string(provider) + `", "clientId": "` + e.app.ClientID + `"}`
	status, p := e.api(t, "POST", "/api/payment/checkout", e.token, body)
	if status != http.StatusCreated {
		t.Fatalf("create: %d %v", status, p)
	}
	id := p["id"].(string)
	a, err := e.svc.StartAttempt(ctx, id, checkout.Choice{Provider: provider})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (providertest.FormShopper{}).Complete(ctx, providers.Session{PayURL: a.PayURL}, providertest.Pay); err != nil {
		t.Fatal(err)
	}
	if v, err := e.svc.Verify(ctx, id, a.ID); err != nil || v.Payment.Status != checkout.PaymentPaid {
		t.Fatalf("paying with %s: %+v %v", provider, v.Payment, err)
	}
	return id
}

// TestRefundEnKashPartThenRest: pay with EnKash, refund part, refund the rest; the payment is
// refunded, refundedAmount follows, and each success is an event (the webhook outbox's input).
func TestRefundEnKashPartThenRest(t *testing.T) {
	e := newEnvWith(t, true)
	id := e.paidVia(t, providers.EnKash, 199900, "INR")
	status, r := e.api(t, "POST", "/api/payment/"+id+"/refunds", e.token, `{"amount": 50000, "reason": "requested_by_customer", "note": "one item back"}`)
	if status != http.StatusCreated || r["status"] != "succeeded" || r["amount"] != float64(50000) || r["currencyCode"] != "INR" ||
		r["paymentId"] != id || r["reason"] != "requested_by_customer" || r["createdAt"] == nil || r["providerReference"] == nil {
		t.Fatalf("partial refund: %d %v", status, r)
	}
	status, p := e.api(t, "GET", "/api/payment/"+id, e.token, "")
	if status != 200 || p["status"] != "partially_refunded" || p["refundedAmount"] != float64(50000) || len(p["refunds"].([]any)) != 1 {
		t.Fatalf("after a partial refund: %v", p)
	}
	// The shopper's page says what was given back, and when.
	if status, page := e.page(t, "/checkout/"+id); status != 200 || !strings.Contains(page, "<h1>Thank you for your payment</h1>") ||
		!strings.Contains(page, "₹500.00 of it was refunded on") {
		t.Fatalf("thank-you page after a partial refund: %d\n%s", status, page)
	}
	status, rest := e.api(t, "POST", "/api/payment/"+id+"/refunds", e.token, ``)
	if status != http.StatusCreated || rest["status"] != "succeeded" || rest["amount"] != float64(149900) {
		t.Fatalf("refunding the rest: %d %v", status, rest)
	}
	_, p = e.api(t, "GET", "/api/payment/"+id, e.token, "")
	if p["status"] != "refunded" || p["refundedAmount"] != float64(199900) {
		t.Fatalf("after refunding the rest: %v", p)
	}
	_, list := e.api(t, "GET", "/api/payment/"+id+"/refunds", e.token, "")
	if rs := list["refunds"].([]any); len(rs) != 2 || rs[0].(map[string]any)["id"] != r["id"] {
		t.Fatalf("refund list %v", list)
	}
	if status, body := e.api(t, "POST", "/api/payment/"+id+"/refunds", e.token, `{"amount": 1}`); status != 422 {
		t.Fatalf("refunding a refunded payment: %d %v", status, body)
	}
	evs, _ := e.svc.Events(context.Background(), id)
	var types []string
	for _, ev := range evs {
		if strings.HasPrefix(ev.Type, "payment.") && strings.Contains(ev.Type, "refund") {
			types = append(types, ev.Type)
			if rf, _ := ev.Data["refund"].(map[string]any); rf["id"] == nil || rf["status"] != "succeeded" {
				t.Errorf("event %s carries no refund: %v", ev.Type, ev.Data)
			}
		}
	}
	if strings.Join(types, ",") != "payment.partially_refunded,payment.refunded" {
		t.Fatalf("refund events %v", types)
	}
}

// TestRefundEnKashPendingThenPolled: a refund EnKash leaves pending (its magic amount) is
// polled by the refund job until it succeeds; one it refuses fails with refund.failed.
func TestRefundEnKashPendingThenPolled(t *testing.T) {
	e := newEnvWith(t, true)
	ctx := context.Background()
	id := e.paidVia(t, providers.EnKash, 100000, "INR")
	status, r := e.api(t, "POST", "/api/payment/"+id+"/refunds", e.token, `{"amount": 20200}`)
	if status != http.StatusCreated || r["status"] != "pending" {
		t.Fatalf("pending refund: %d %v", status, r)
	}
	status, f := e.api(t, "POST", "/api/payment/"+id+"/refunds", e.token, `{"amount": 40200}`)
	if status != http.StatusCreated || r["status"] != "pending" || f["status"] != "failed" || f["failureReason"] == nil {
		t.Fatalf("refused refund: %d %v", status, f)
	}
	// The job asks again once the refund is due.
	e.svc.Now = func() time.Time { return time.Now().Add(time.Minute) }
	if n, err := e.svc.PollRefunds(ctx); err != nil || n != 1 {
		t.Fatalf("poll: %d %v", n, err)
	}
	e.svc.Now = nil
	_, p := e.api(t, "GET", "/api/payment/"+id, e.token, "")
	if p["status"] != "partially_refunded" || p["refundedAmount"] != float64(20200) {
		t.Fatalf("after the poll: %v", p)
	}
	failed := 0
	evs, _ := e.svc.Events(ctx, id)
	for _, ev := range evs {
		if ev.Type == checkout.EventRefundFailed {
			failed++
		}
	}
	if failed != 1 {
		t.Fatalf("%d refund.failed events", failed)
	}
}

// TestRefundOnecheckoutManualThenConfirmed: Onecheckout has no refund API: the refund is
// manual until an operator confirms it with a dashboard token; then the payment is refunded.
func TestRefundOnecheckoutManualThenConfirmed(t *testing.T) {
	e := newEnv(t)
	id := e.paidVia(t, providers.Onecheckout, 4200, "USD")
	status, r := e.api(t, "POST", "/api/payment/"+id+"/refunds", e.token, `{"reason": "duplicate"}`, "Idempotency-Key", "refund-1")
	if status != http.StatusCreated || r["status"] != "manual" || r["amount"] != float64(4200) || r["provider"] != "onecheckout" {
		t.Fatalf("manual refund: %d %v", status, r)
	}
	// The same key and body replay the first answer; nothing is refunded twice.
	status, replay := e.api(t, "POST", "/api/payment/"+id+"/refunds", e.token, `{"reason": "duplicate"}`, "Idempotency-Key", "refund-1")
	if status != http.StatusCreated || replay["id"] != r["id"] {
		t.Fatalf("replay: %d %v", status, replay)
	}
	_, p := e.api(t, "GET", "/api/payment/"+id, e.token, "")
	if p["status"] != "paid" || p["refundedAmount"] != float64(0) || len(p["refunds"].([]any)) != 1 {
		t.Fatalf("before confirming: %v", p)
	}
	if _, page := e.page(t, "/checkout/"+id); !strings.Contains(page, "<h1>Thank you for your payment</h1>") || strings.Contains(page, "refunded") {
		t.Fatalf("a manual refund not yet confirmed shows on the shopper's page:\n%s", page)
	}
	dash := e.dashboardToken(t)
	if status, _ := e.api(t, "POST", "/api/refunds/"+r["id"].(string)+"/confirm", e.token, ""); status != http.StatusUnauthorized {
		t.Fatalf("confirming with a client token: %d, want 401", status)
	}
	status, done := e.api(t, "POST", "/api/refunds/"+r["id"].(string)+"/confirm", dash, "")
	if status != 200 || done["status"] != "succeeded" || done["succeededAt"] == nil {
		t.Fatalf("confirm: %d %v", status, done)
	}
	_, p = e.api(t, "GET", "/api/payment/"+id, e.token, "")
	if p["status"] != "refunded" || p["refundedAmount"] != float64(4200) {
		t.Fatalf("after confirming: %v", p)
	}
	if status, list := e.api(t, "GET", "/api/payments", dash, ""); status != 200 || fmt.Sprint(list["payments"].([]any)[0].(map[string]any)["refundedAmount"]) != "4200" {
		t.Fatalf("the payment list does not show what was refunded: %d %v", status, list)
	}
	if status, page := e.page(t, "/checkout/"+id); status != 200 || !strings.Contains(page, "<h1>This payment was refunded</h1>") ||
		!strings.Contains(page, "$42.00 was given back on") || strings.Contains(page, "Thank you") {
		t.Fatalf("page of a refunded payment: %d\n%s", status, page)
	}
	if status, _ := e.api(t, "POST", "/api/refunds/"+r["id"].(string)+"/cancel", dash, ""); status != http.StatusConflict {
		t.Fatalf("cancelling a confirmed refund: %d, want 409", status)
	}
	if status, _ := e.api(t, "POST", "/api/refunds/ref_nope/confirm", dash, ""); status != http.StatusNotFound {
		t.Fatalf("confirming an unknown refund: %d, want 404", status)
	}
}

// TestRefundAPIErrors checks every error of the refund API, each against the OpenAPI document.
func TestRefundAPIErrors(t *testing.T) {
	e := newEnv(t)
	doc, _ := loadDoc(t)
	l := &liveDoc{t: t, doc: doc, v: &schemaValidator{root: doc}, e: e, seen: map[string]bool{}}
	ctx := context.Background()
	id := e.paidVia(t, providers.Onecheckout, 10000, "USD")
	path := "/api/payment/" + id + "/refunds"

	// 403 without payments.refund (payments.get may list, not refund); 401 without a token.
	getOnly, _, _ := e.svc.NewToken(ctx, e.app.ClientID, []checkout.Scope{checkout.ScopePaymentsGet, checkout.ScopePaymentsCreate}, "", time.Time{})
	if got := l.expect(403, "POST", path, getOnly.Reveal(), `{"amount": 100}`); got["message"] != "Insufficient permissions" {
		t.Errorf("403 %v", got)
	}
	refundOnly, _, _ := e.svc.NewToken(ctx, e.app.ClientID, []checkout.Scope{checkout.ScopePaymentsRefund}, "", time.Time{})
	l.expect(403, "GET", path, refundOnly.Reveal(), "")
	l.expect(401, "POST", path, "", `{"amount": 100}`)
	// 404: unknown, and another application's payment.
	l.expect(404, "POST", "/api/payment/pay_nope/refunds", e.token, `{}`)
	l.expect(404, "GET", "/api/payment/pay_nope/refunds", e.token, "")
	other, _ := e.svc.NewApp(ctx, "Other", "")
	otherTok, _, _ := e.svc.NewToken(ctx, other.ClientID, []checkout.Scope{checkout.ScopeAll}, "", time.Time{})
	l.expect(404, "POST", path, otherTok.Reveal(), `{}`)
	// 409: never paid.
	status, open := e.api(t, "POST", "/api/payment/checkout", e.token, e.createBody("500"))
	if status != 201 {
		t.Fatal(open)
	}
	l.expect(409, "POST", "/api/payment/"+open["id"].(string)+"/refunds", e.token, `{}`)
	// 400 and 422: bad bodies change nothing.
	l.expect(400, "POST", path, e.token, `{"amount": `)
	for _, body := range []string{`{"amount": 0}`, `{"amount": -5}`, `{"amount": 10.5}`, `{"amount": "100"}`, `{"reason": "whim"}`,
		`{"reason": "provider_reversal"}`, `{"note": "` + strings.Repeat("n", 501) + `"}`, `{"amount": 10001}`} {
		l.expect(422, "POST", path, e.token, body)
	}
	l.expect(413, "POST", path, e.token, `{"note": "`+strings.Repeat("x", 70<<10)+`"}`)
	// 201, then more than is left (422), and a fully refunded payment (422).
	l.expect(201, "POST", path, e.token, `{"amount": 2500, "reason": "requested_by_customer", "note": "Returned one item"}`)
	tooMuch := l.expect(422, "POST", path, e.token, `{"amount": 7501}`)
	if errs, _ := tooMuch["errors"].(map[string]any); errs["amount"] == nil {
		t.Errorf("422 names no amount: %v", tooMuch)
	}
	rest := l.expect(201, "POST", path, e.token, `{}`)
	if fmt.Sprint(rest["amount"]) != "7500" {
		t.Errorf("the rest: %v", rest)
	}
	dash := e.dashboardToken(t)
	for _, r := range []map[string]any{rest} {
		l.expect(200, "POST", "/api/refunds/"+r["id"].(string)+"/confirm", dash, "")
	}
	list := l.expect(200, "GET", path, e.token, "")
	first := list["refunds"].([]any)[0].(map[string]any)["id"].(string)
	l.expect(200, "POST", "/api/refunds/"+first+"/cancel", dash, "")
	l.expect(409, "POST", "/api/refunds/"+first+"/confirm", dash, "")
	l.expect(409, "POST", "/api/refunds/"+rest["id"].(string)+"/cancel", dash, "")
	l.expect(404, "POST", "/api/refunds/ref_nope/cancel", dash, "")
	l.expect(401, "POST", "/api/refunds/"+first+"/confirm", e.token, "")
	l.expect(201, "POST", path, e.token, `{}`) // the cancelled 2500 is refundable again
	l.expect(422, "POST", path, e.token, `{}`)
	l.expect(200, "GET", "/api/payment/"+id, e.token, "")

	for _, must := range []string{
		"POST /api/payment/{id}/refunds 201", "POST /api/payment/{id}/refunds 400", "POST /api/payment/{id}/refunds 401",
		"POST /api/payment/{id}/refunds 403", "POST /api/payment/{id}/refunds 404", "POST /api/payment/{id}/refunds 409",
		"POST /api/payment/{id}/refunds 413", "POST /api/payment/{id}/refunds 422", "GET /api/payment/{id}/refunds 200",
		"GET /api/payment/{id}/refunds 403", "GET /api/payment/{id}/refunds 404", "POST /api/refunds/{id}/confirm 200",
		"POST /api/refunds/{id}/confirm 409", "POST /api/refunds/{id}/cancel 200", "POST /api/refunds/{id}/cancel 409",
		"POST /api/refunds/{id}/cancel 404",
	} {
		if !l.seen[must] {
			t.Errorf("no live answer exercised %s", must)
		}
	}
}

// TestRefundBodyUnreadable: a refund request whose body cannot be read (broken chunked
// encoding) is a bad request (400), as on every other JSON endpoint, not "too large" (413),
// and refunds nothing.
func TestRefundBodyUnreadable(t *testing.T) {
	e := newEnv(t)
	id := e.paidVia(t, providers.Onecheckout, 10000, "USD")
	// Without and with an Idempotency-Key (whose middleware reads the body first).
	for _, extra := range []string{"", "Idempotency-Key: unreadable-1\r\n"} {
		conn, err := net.Dial("tcp", strings.TrimPrefix(e.srv.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "POST /api/payment/%s/refunds HTTP/1.1\r\nHost: kassa\r\nAuthorization: Bearer %s\r\n%s"+
			"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", id, e.token, extra)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		conn.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%q: status %d, want 400", extra, resp.StatusCode)
		}
	}
	if _, got := e.api(t, "GET", "/api/payment/"+id+"/refunds", e.token, ""); len(got["refunds"].([]any)) != 0 {
		t.Errorf("refunds %v", got["refunds"])
	}
}

// A provider callback whose body cannot be read (a broken chunked encoding) is a 400, not a
// 413 "too large": the provider is told the truth and may deliver it again.
func TestCallbackBodyUnreadable(t *testing.T) {
	e := newEnvWith(t, true)
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /callbacks/enkash HTTP/1.1\r\nHost: kassa\r\n"+
		"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("status %d, want 400", resp.StatusCode)
	}
}
