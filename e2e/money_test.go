package e2e

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/kassa-pay/kassa/checkout"
)

// Journeys of issue 10 (money safety) against the real binary.

// TestLostPushAnswerIsConfirmed: OneKhusa pushes the prompt to the phone but answers 500
// after acting (the sandbox's magic amount 502). The shopper is told to confirm on the phone
// rather than that the payment failed, approves the prompt, and sees the thank-you page:
// Kassa found the transaction by its own reference. (A reset connection, amount 521, is
// retried by Go's transport because the push carries X-Idempotency-Key, and OneKhusa replays
// its answer, so that fault never even reaches Kassa's domain.)
func TestLostPushAnswerIsConfirmed(t *testing.T) {
	t.Parallel()
	k := start(t)
	p := k.createPayment(t, 502_00, "MWK")
	ctx := tab(t)
	do(t, ctx, chromedp.Navigate(p.CheckoutURL),
		chromedp.WaitVisible(chromedp.CSS("h1")),
		chromedp.Click(`//label[normalize-space(text())='OneKhusa']`))
	id := get(t, ctx, chromedp.AttributeValue(`//label[normalize-space(.)='OneKhusa payment method']`, "for")).Value
	do(t, ctx,
		chromedp.SetValue(chromedp.ID(id), "airtel"),
		chromedp.SendKeys(chromedp.ID("phone"), "0991 234 567"),
		chromedp.Click(`//button[starts-with(normalize-space(.), 'Pay')]`))
	waitHeading(t, ctx, "Confirm the payment on your phone")
	got := k.payment(t, p.ID)
	if len(got.Attempts) != 1 || got.Attempts[0].Status != "pending" {
		t.Fatalf("after a lost answer: attempts %+v, want one live attempt", got.Attempts)
	}

	phone := tab(t)
	do(t, phone, chromedp.Navigate(k.URL+"/sandbox/onekhusa/phone"), pressOnProvider("Approve"))
	waitHeading(t, ctx, "Thank you")
	if got := k.payment(t, p.ID); got.Status != "paid" || got.Attempts[0].ProviderReference == "" {
		t.Fatalf("payment %s, attempt %+v after the phone approved", got.Status, got.Attempts[0])
	}
	if n := k.events(t, p.ID, checkout.EventAttemptOutcomeUnknown); n != 1 {
		t.Fatalf("%d attempt.outcome_unknown events, want 1", n)
	}
}

// TestConcurrentInstructionsPushOnce: a merchant's server retries the instructions call for a
// mobile-money push, several at once. One push reaches the phone; every call answers with the
// same attempt.
func TestConcurrentInstructionsPushOnce(t *testing.T) {
	t.Parallel()
	k := start(t)
	p := k.createPayment(t, 4500000, "MWK")
	const n = 5
	ids := make(chan string, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var out struct {
				AttemptID string `json:"attemptId"`
				Type      string `json:"type"`
			}
			status := k.api(t, "GET", "/api/payment/"+p.ID+"/instructions?provider=onekhusa&method=airtel&phone=0991234567", nil, &out)
			if status != http.StatusOK || out.Type != "push" {
				t.Errorf("instructions: HTTP %d, %+v", status, out)
				return
			}
			ids <- out.AttemptID
		}()
	}
	wg.Wait()
	close(ids)
	seen := map[string]bool{}
	for id := range ids {
		seen[id] = true
	}
	got := k.payment(t, p.ID)
	if len(seen) != 1 || len(got.Attempts) != 1 {
		t.Fatalf("%d attempt ids answered, %d attempts stored, from %d concurrent calls: want one push", len(seen), len(got.Attempts), n)
	}
	// The simulated phone shows exactly one prompt.
	resp, err := http.Get(k.URL + "/sandbox/onekhusa/phone")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	page, _ := io.ReadAll(resp.Body)
	if c := strings.Count(string(page), `value="approve"`); c != 1 {
		t.Fatalf("%d prompts on the phone, want 1", c)
	}
}

// TestReopenedCheckoutFindsPayment: the shopper pays on Onecheckout's page but never comes
// back (the tab was closed). Reopening the checkout link shows the thank-you page, not the
// choice of providers again: Kassa asks Onecheckout before offering Pay.
func TestReopenedCheckoutFindsPayment(t *testing.T) {
	t.Parallel()
	k := start(t)
	p := k.createPayment(t, 6197, "USD")
	ctx := tab(t)
	do(t, ctx, chromedp.Navigate(p.CheckoutURL), chooseProvider("Onecheckout"),
		chromedp.WaitVisible(`//button[normalize-space(.)='Pay']`))
	// The browser is on the provider's page now; pay there without following it back.
	payPage := get(t, ctx, chromedp.Location())
	completeOverHTTP(t, payPage, "pay")
	do(t, ctx, chromedp.Navigate(p.CheckoutURL))
	waitHeading(t, ctx, "Thank you")
	got := k.payment(t, p.ID)
	if got.Status != "paid" || len(got.Attempts) != 1 {
		t.Fatalf("payment %s with %d attempts", got.Status, len(got.Attempts))
	}
}
