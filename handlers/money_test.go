package handlers_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kassa-pay/kassa/checkout"
	"github.com/kassa-pay/kassa/providers"
	"github.com/kassa-pay/kassa/providers/providertest"
)

// hangUp is an idempotency store that cancels the request as soon as the key is claimed: the
// client hung up while the request was being served.
type hangUp struct {
	checkout.IdempotencyStore
	cancel context.CancelFunc
}

func (h hangUp) ClaimIdempotencyKey(ctx context.Context, clientID, key, hash string) (checkout.IdempotentRequest, error) {
	r, err := h.IdempotencyStore.ClaimIdempotencyKey(ctx, clientID, key, hash)
	h.cancel()
	return r, err
}

// Issue 10 item 6: a create whose client hung up still finishes, and its retry gets the same
// payment instead of "still being processed" for a day.
func TestIdempotentCreateSurvivesHangUp(t *testing.T) {
	e := newEnv(t)
	body := e.createBody("2500")
	ctx, cancel := context.WithCancel(context.Background())
	e.server.Idempotency = hangUp{IdempotencyStore: e.store, cancel: cancel}
	req := httptest.NewRequest("POST", "/api/payment/checkout", strings.NewReader(body)).WithContext(ctx)
	req.Header.Set("Authorization", "Bearer "+e.token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", "hung-up")
	rec := httptest.NewRecorder()
	e.server.Handler().ServeHTTP(rec, req)
	e.server.Idempotency = e.store

	status, again := e.api(t, "POST", "/api/payment/checkout", e.token, body, "Idempotency-Key", "hung-up")
	if status != http.StatusCreated || again["id"] == nil {
		t.Fatalf("retry after a hang-up: %d %v; want the first request's payment", status, again)
	}
	if n, _ := e.store.CountPayments(context.Background()); n != 1 {
		t.Fatalf("%d payments, want 1", n)
	}
	var first map[string]any
	json.Unmarshal(rec.Body.Bytes(), &first)
	if rec.Code == http.StatusCreated && first["id"] != again["id"] {
		t.Fatalf("retry answered payment %v, the hung-up request made %v", again["id"], first["id"])
	}
}

// Issue 10 item 4: concurrent instructions calls for the same provider and method share one
// provider order.
func TestConcurrentInstructionsShareOneOrder(t *testing.T) {
	e := newEnv(t)
	p := e.newPayment(t, 6197)
	const n = 6
	ids := make(chan string, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, got := e.api(t, "GET", "/api/payment/"+p.ID+"/instructions?provider=onecheckout", e.token, "")
			if status != 200 {
				t.Errorf("instructions: %d %v", status, got)
				return
			}
			ids <- got["attemptId"].(string)
		}()
	}
	wg.Wait()
	close(ids)
	seen := map[string]bool{}
	for id := range ids {
		seen[id] = true
	}
	got, _ := e.svc.Payment(context.Background(), p.ID)
	if len(seen) != 1 || len(got.Attempts) != 1 {
		t.Fatalf("%d attempts answered, %d stored, from %d concurrent calls: want 1", len(seen), len(got.Attempts), n)
	}
}

// Issue 10 item 5: a shopper who paid at the provider but never came back, reopening the
// checkout page, sees the thank-you page instead of being offered Pay again.
func TestCheckoutPageFindsPaymentMadeWithoutReturn(t *testing.T) {
	e := newEnv(t)
	p := e.newPayment(t, 6197)
	resp := e.submit(t, "/checkout/"+p.ID, url.Values{"provider": {"onecheckout"}})
	resp.Body.Close()
	if resp.StatusCode != 303 {
		t.Fatalf("choose: %d", resp.StatusCode)
	}
	// Pay on the provider's page, and never follow the redirect back to Kassa.
	if _, err := (providertest.FormShopper{}).Complete(context.Background(), providers.Session{PayURL: resp.Header.Get("Location")}, providertest.Pay); err != nil {
		t.Fatal(err)
	}
	status, body := e.page(t, "/checkout/"+p.ID)
	if status != 200 || !strings.Contains(body, "Thank you") {
		t.Fatalf("reopened checkout page: %d; want the thank-you page, not the choice again", status)
	}
	if got, _ := e.svc.Payment(context.Background(), p.ID); got.Status != checkout.PaymentPaid || len(got.Attempts) != 1 {
		t.Fatalf("payment %s with %d attempts", got.Status, len(got.Attempts))
	}
}

// Issue 10 items 3 and 5: an attempt in review whose provider cannot be asked keeps the
// shopper on the confirming page, with no way to pay again until the provider answers.
func TestReviewedAttemptShowsConfirming(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	p := e.newPayment(t, 503_00) // the sandbox's magic amount: every status lookup fails
	a, err := e.svc.StartAttempt(ctx, p.ID, checkout.Choice{Provider: providers.Onecheckout})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.Apply(ctx, checkout.Change{Attempt: &checkout.AttemptChange{ID: a.ID,
		From: []checkout.AttemptStatus{checkout.AttemptPending}, To: checkout.AttemptReview, Checks: -1, At: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	status, _ := e.page(t, "/checkout/"+p.ID)
	if status != http.StatusSeeOther {
		t.Fatalf("checkout page with an attempt in review: %d, want a redirect to the confirming page", status)
	}
	status, body := e.page(t, "/checkout/"+p.ID+"/attempts/"+a.ID)
	if status != 200 || !strings.Contains(body, "Confirming your payment") || strings.Contains(body, "Back to the payment choices") {
		t.Fatalf("confirming page: %d\n%s", status, body)
	}
}
