package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/kassa-pay/kassa/checkout"
	"github.com/kassa-pay/kassa/db"
)

type apiRefund struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Amount int64  `json:"amount"`
}

type refundedPayment struct {
	Status         string      `json:"status"`
	RefundedAmount int64       `json:"refundedAmount"`
	Refunds        []apiRefund `json:"refunds"`
}

// payInBrowser pays the payment with provider in Chromium and waits for the thank-you page.
func payInBrowser(t *testing.T, k *kassa, provider string, amount int64, cur string) (apiPayment, func(string)) {
	t.Helper()
	p := k.createPayment(t, amount, cur)
	ctx := tab(t)
	do(t, ctx, chromedp.Navigate(p.CheckoutURL), chooseProvider(provider), pressOnProvider("Pay"))
	waitHeading(t, ctx, "Thank you")
	return p, func(heading string) {
		do(t, ctx, chromedp.Navigate(p.CheckoutURL))
		waitHeading(t, ctx, heading)
	}
}

func (k *kassa) refunds(t *testing.T, id string) refundedPayment {
	t.Helper()
	var p refundedPayment
	if status := k.api(t, "GET", "/api/payment/"+id, nil, &p); status != http.StatusOK {
		t.Fatalf("get payment: HTTP %d", status)
	}
	return p
}

// refundDueNow makes a pending refund's next check due now, as if the delay before its first
// check (ten seconds, a constant of the domain) had passed: the server's refund job then asks
// the provider on its next pass, every 500 ms here, and the test does not wait idle.
func (k *kassa) refundDueNow(t *testing.T, refundID string) {
	t.Helper()
	ctx := context.Background()
	d, err := db.Open(ctx, "sqlite:"+k.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	r, err := d.FindRefund(ctx, refundID)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := d.LockRefunds(ctx, r.PaymentID, func(*checkout.Payment) (checkout.RefundChange, error) {
		return checkout.RefundChange{Update: &checkout.RefundUpdate{ID: r.ID, From: []checkout.RefundStatus{checkout.RefundPending},
			To: checkout.RefundPending, Error: r.Error, Checks: r.Checks, NextCheckAt: now, At: now}}, nil
	}); err != nil {
		t.Fatalf("making refund %s due now: %v", refundID, err)
	}
}

// TestRefundEnKash pays with EnKash in the browser, refunds part through the API, leaves a
// refund pending at EnKash (its magic amount) until the server's refund job settles it, and
// refunds the rest with the CLI: the payment ends refunded, the shopper's page says so.
func TestRefundEnKash(t *testing.T) {
	t.Parallel()
	k := start(t)
	p, visit := payInBrowser(t, k, "EnKash", 199907, "INR")
	var r apiRefund
	if status := k.api(t, "POST", "/api/payment/"+p.ID+"/refunds", map[string]any{"amount": 50000, "reason": "requested_by_customer"}, &r); status != 201 || r.Status != "succeeded" {
		t.Fatalf("partial refund: HTTP %d %+v", status, r)
	}
	if status := k.api(t, "POST", "/api/payment/"+p.ID+"/refunds", map[string]any{"amount": 20200}, &r); status != 201 || r.Status != "pending" {
		t.Fatalf("pending refund: HTTP %d %+v", status, r)
	}
	k.refundDueNow(t, r.ID)
	deadline := time.Now().Add(45 * time.Second)
	for k.refunds(t, p.ID).RefundedAmount != 70200 {
		if time.Now().After(deadline) {
			t.Fatalf("the pending refund was not settled by the refund job: %+v", k.refunds(t, p.ID))
		}
		time.Sleep(250 * time.Millisecond)
	}
	visit("Thank you")
	out := cli(t, "refunds", "create", "--db", "sqlite:"+k.dbPath, "--payment", p.ID, "--base-url", k.URL)
	if err := json.Unmarshal(out, &r); err != nil || r.Status != "succeeded" || r.Amount != 199907-70200 {
		t.Fatalf("refunds create printed %s", out)
	}
	got := k.refunds(t, p.ID)
	if got.Status != "refunded" || got.RefundedAmount != 199907 || len(got.Refunds) != 3 {
		t.Fatalf("after refunding the rest: %+v", got)
	}
	visit("This payment was refunded")
	if n := k.events(t, p.ID, checkout.EventPaymentRefunded); n != 1 {
		t.Fatalf("%d payment.refunded events", n)
	}
}

// TestRefundOnecheckoutManual pays with Onecheckout, refunds: the refund is manual until an
// operator confirms it with a dashboard access token; then the payment is refunded.
func TestRefundOnecheckoutManual(t *testing.T) {
	t.Parallel()
	k := start(t)
	p, visit := payInBrowser(t, k, "Onecheckout", 6197, "USD")
	var r apiRefund
	if status := k.api(t, "POST", "/api/payment/"+p.ID+"/refunds", map[string]any{}, &r); status != 201 || r.Status != "manual" || r.Amount != 6197 {
		t.Fatalf("refund: HTTP %d %+v", status, r)
	}
	var oc struct{ ClientID, ClientSecret string }
	if err := json.Unmarshal(cli(t, "oauth-clients", "create", "--db", "sqlite:"+k.dbPath, "--name", "ops"), &oc); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", k.URL+"/oauth/token", strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(oc.ClientID, oc.ClientSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	req, _ = http.NewRequest("POST", k.URL+"/api/refunds/"+r.ID+"/confirm", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("confirm: HTTP %d", resp.StatusCode)
	}
	if got := k.refunds(t, p.ID); got.Status != "refunded" || got.RefundedAmount != 6197 || got.Refunds[0].Status != "succeeded" {
		t.Fatalf("after confirming: %+v", got)
	}
	visit("This payment was refunded")
}
