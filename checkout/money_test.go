package checkout_test

import (
	"context"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/kassa-pay/kassa/checkout"
	"github.com/kassa-pay/kassa/providers"
)

// Regression tests for issue 10 (money safety). Each fails on the code before it.

func unavailable() error {
	return &providers.Error{Provider: "fake", Op: "create", Kind: providers.ErrUnavailable, Message: "timeout awaiting response headers"}
}

func (fx *fixture) setResult(ref string, r providers.Result) {
	fx.fake.mu.Lock()
	defer fx.fake.mu.Unlock()
	r.ProviderRef = ref
	fx.fake.orders[ref] = r
}

func (fx *fixture) refFor(attemptID string) string {
	fx.fake.mu.Lock()
	defer fx.fake.mu.Unlock()
	return fx.fake.byReference[attemptID]
}

// Item 1: a create that timed out after the provider acted stays live, is found by Kassa's
// reference, and pays the payment once the shopper approves.
func TestUnknownCreateOutcomeStaysLiveAndConverges(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()
	p := fx.payment(t, 2500, "USD")
	fx.fake.createErr, fx.fake.actAnyway = unavailable(), true
	a, err := fx.svc.StartAttempt(ctx, p.ID, checkout.Choice{Provider: "fake"})
	if err != nil {
		t.Fatalf("unknown outcome answered %v: the shopper must be told it is being confirmed, not that it failed", err)
	}
	if a.Status != checkout.AttemptPending || a.ProviderRef != "" || a.PayURL != "" {
		t.Fatalf("attempt %+v: want pending without a provider ref", a)
	}
	fx.fake.createErr, fx.fake.actAnyway = nil, false
	ref := fx.refFor(a.ID)
	fx.fake.set(ref, providers.StatusPaid) // the shopper approved the push
	if _, err := fx.svc.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ := fx.svc.Payment(ctx, p.ID)
	if got.Status != checkout.PaymentPaid || got.Attempts[0].ProviderRef != ref {
		t.Fatalf("payment %s, attempt %+v: the poller must find the order by reference and pay it", got.Status, got.Attempts[0])
	}
	if fx.events(t, p.ID, checkout.EventAttemptOutcomeUnknown) != 1 {
		t.Fatal("want one attempt.outcome_unknown event")
	}
}

// Item 1: an unknown outcome the provider never acted on ends once the provider, asked by
// reference long enough after, has no such order.
func TestUnknownCreateOutcomeNotFoundFailsAfterGrace(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()
	p := fx.payment(t, 2500, "USD")
	fx.fake.createErr = unavailable()
	a, err := fx.svc.StartAttempt(ctx, p.ID, checkout.Choice{Provider: "fake"})
	if err != nil {
		t.Fatal(err)
	}
	fx.fake.createErr = nil
	fx.svc.Reconcile(ctx)
	if got, _ := fx.svc.Store.FindAttempt(ctx, a.ID); got.Status != checkout.AttemptPending {
		t.Fatalf("attempt %s right after the lost answer: not found yet is no proof", got.Status)
	}
	fx.advance(5 * time.Minute)
	fx.svc.Reconcile(ctx)
	if got, _ := fx.svc.Store.FindAttempt(ctx, a.ID); got.Status != checkout.AttemptFailed {
		t.Fatalf("attempt %s long after: want failed", got.Status)
	}
}

// Item 1: the sweep of attempts interrupted mid-create looks them up instead of failing them.
func TestStaleCreatingIsLookedUpNotFailed(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()
	p := fx.payment(t, 2500, "USD")
	now := fx.now()
	a := &checkout.Attempt{ID: "att_stalestalestalestalestalest", PaymentID: p.ID, Provider: "fake", Status: checkout.AttemptCreating,
		Money: p.Money, CreatedAt: now, UpdatedAt: now}
	if err := fx.db.CreateAttempt(ctx, a, checkout.Event{PaymentID: p.ID, AttemptID: a.ID, Type: checkout.EventAttemptCreated, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	// The process died after the provider created the order; the shopper paid by push.
	fx.fake.CreateOrder(ctx, providers.Order{Reference: a.ID, Amount: 2500, Currency: "USD"})
	fx.fake.set(fx.refFor(a.ID), providers.StatusPaid)
	fx.advance(3 * time.Minute)
	fx.svc.Reconcile(ctx) // takes the attempt over
	fx.svc.Reconcile(ctx) // and looks it up
	if got, _ := fx.svc.Payment(ctx, p.ID); got.Status != checkout.PaymentPaid {
		t.Fatalf("payment %s, attempt %s: an interrupted create must be looked up, not failed", got.Status, got.Attempts[0].Status)
	}
}

// Item 1: a callback naming Kassa's reference finds an attempt whose provider id was never
// learnt.
func TestCallbackFindsAttemptByReference(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()
	p := fx.payment(t, 2500, "USD")
	fx.fake.createErr, fx.fake.actAnyway = unavailable(), true
	a, err := fx.svc.StartAttempt(ctx, p.ID, checkout.Choice{Provider: "fake"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := fx.svc.AttemptForCallback(ctx, "fake", providers.CallbackHint{ProviderRef: fx.refFor(a.ID), Reference: a.ID})
	if err != nil || got.ID != a.ID {
		t.Fatalf("callback naming the order and Kassa's reference: %v, %v", got, err)
	}
}

// Item 2: refunded readings never pay an unpaid payment, with or without the right amount.
func TestRefundedReadingNeverPays(t *testing.T) {
	for _, st := range []providers.Status{providers.StatusRefunded, providers.StatusPartiallyRefunded} {
		t.Run(string(st), func(t *testing.T) {
			fx := newFixture(t)
			p := fx.payment(t, 2500, "USD")
			a := fx.attempt(t, p)
			fx.setResult(a.ProviderRef, providers.Result{Status: st, Amount: 2500, Currency: "USD"})
			v, _ := fx.svc.Verify(context.Background(), p.ID, a.ID)
			if v.Payment.Status != checkout.PaymentOpen || v.Attempt.Status == checkout.AttemptPaid {
				t.Fatalf("a %s reading made the payment %s, attempt %s", st, v.Payment.Status, v.Attempt.Status)
			}
			if fx.events(t, p.ID, checkout.EventAttemptReversedUnpaid) != 1 {
				t.Fatal("the merchant must be told (attempt.reversed_unpaid)")
			}
		})
	}
}

// Item 2: a paid payment later reported reversed becomes refunded, with its event.
func TestPaidThenReversedBecomesRefunded(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()
	p := fx.payment(t, 2500, "USD")
	a := fx.attempt(t, p)
	fx.fake.set(a.ProviderRef, providers.StatusPaid)
	fx.svc.Verify(ctx, p.ID, a.ID)
	fx.fake.set(a.ProviderRef, providers.StatusRefunded)
	v, err := fx.svc.VerifyNotified(ctx, p.ID, a.ID)
	if err != nil || v.Payment.Status != checkout.PaymentRefunded {
		t.Fatalf("payment %s after a reversal, %v", v.Payment.Status, err)
	}
	if fx.events(t, p.ID, checkout.EventPaymentRefunded) != 1 {
		t.Fatal("want one payment.refunded event")
	}
	// The reversal is a refund of its own, so the merchant sees how much went back and why.
	if rs := v.Payment.Refunds; len(rs) != 1 || rs[0].Reason != checkout.ReasonProviderReversal ||
		rs[0].Status != checkout.RefundSucceeded || rs[0].Amount != 2500 || v.Payment.RefundedAmount() != 2500 {
		t.Fatalf("refunds after a reversal: %+v (refunded %d)", rs, v.Payment.RefundedAmount())
	}
	fx.svc.VerifyNotified(ctx, p.ID, a.ID)
	if fx.events(t, p.ID, checkout.EventPaymentRefunded) != 1 || fx.events(t, p.ID, checkout.EventPaymentPaid) != 1 {
		t.Fatal("a repeated reversal reading must not repeat the event or pay again")
	}
	if v, _ := fx.svc.Payment(ctx, p.ID); len(v.Refunds) != 1 {
		t.Fatalf("a repeated reversal reading recorded %d refunds, want 1", len(v.Refunds))
	}
}

// Item 2: an authorization of the wrong amount is never captured.
func TestAuthorizedWrongAmountIsNotCaptured(t *testing.T) {
	fx := newFixture(t)
	p := fx.payment(t, 2500, "USD")
	a := fx.attempt(t, p)
	fx.setResult(a.ProviderRef, providers.Result{Status: providers.StatusAuthorized, Amount: 2400, Currency: "USD"})
	v, _ := fx.svc.Verify(context.Background(), p.ID, a.ID)
	if fx.fake.captured != 0 || v.Payment.Status != checkout.PaymentOpen || v.Attempt.Status != checkout.AttemptReview {
		t.Fatalf("captures %d, payment %s, attempt %s", fx.fake.captured, v.Payment.Status, v.Attempt.Status)
	}
}

// Item 3: a reading with a missing amount puts the attempt in review (live, flagged, the
// shopper not invited to pay again), and a later correct reading pays it.
func TestMismatchedReadingIsReviewedThenPaid(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()
	p := fx.payment(t, 2500, "USD")
	a := fx.attempt(t, p)
	fx.setResult(a.ProviderRef, providers.Result{Status: providers.StatusPaid, Amount: 0, Currency: "USD"})
	v, _ := fx.svc.Verify(ctx, p.ID, a.ID)
	if v.Attempt.Status != checkout.AttemptReview || !v.Attempt.Status.Live() || v.Payment.Status != checkout.PaymentOpen {
		t.Fatalf("attempt %s, payment %s after a reading without amount", v.Attempt.Status, v.Payment.Status)
	}
	if fx.events(t, p.ID, checkout.EventAttemptAmountMismatch) != 1 {
		t.Fatal("want one attempt.amount_mismatch event")
	}
	if _, waiting, _ := fx.svc.Unconfirmed(ctx, p.ID); waiting == nil || waiting.ID != a.ID {
		t.Fatal("an attempt in review must be confirmed before the shopper chooses again")
	}
	if _, err := fx.svc.StartAttempt(ctx, p.ID, checkout.Choice{Provider: "fake", Method: ""}); err != nil {
		// the same provider and method: the attempt in review is shared, not duplicated
		t.Fatal(err)
	}
	if fx.fake.creates != 1 {
		t.Fatalf("%d provider orders: none may be added while one is in review", fx.fake.creates)
	}
	fx.setResult(a.ProviderRef, providers.Result{Status: providers.StatusPaid, Amount: 2500, Currency: "USD"})
	fx.advance(time.Minute)
	fx.svc.Reconcile(ctx)
	got, _ := fx.svc.Payment(ctx, p.ID)
	if got.Status != checkout.PaymentPaid {
		t.Fatalf("payment %s after a correct reading: the attempt must keep being verified", got.Status)
	}
}

// Item 4: concurrent starts of the same provider and method share one provider order, in one
// process (coalesced) and across processes (the store's unique slot).
func TestConcurrentStartsShareOneOrder(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()
	p := fx.payment(t, 2500, "USD")
	fx.fake.gate, fx.fake.entered = make(chan struct{}), make(chan struct{}, 100)
	// A second Service on the same database is a second Kassa process.
	other := &checkout.Service{Store: fx.db, Providers: fx.svc.Providers, URLs: fx.svc.URLs, Now: fx.now}
	var wg sync.WaitGroup
	ids := make(chan string, 20)
	for i := range 20 {
		svc := fx.svc
		if i%2 == 1 {
			svc = other
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, err := svc.StartAttempt(ctx, p.ID, checkout.Choice{Provider: "fake"})
			if err != nil {
				t.Error(err)
				return
			}
			ids <- a.ID
		}()
	}
	<-fx.fake.entered // one create reached the provider; let every call through
	close(fx.fake.gate)
	wg.Wait()
	close(ids)
	seen := map[string]bool{}
	for id := range ids {
		seen[id] = true
	}
	if fx.fake.creates != 1 || len(seen) != 1 {
		t.Fatalf("%d provider orders, %d attempts from 20 concurrent starts: want 1 and 1", fx.fake.creates, len(seen))
	}
	got, _ := fx.svc.Payment(ctx, p.ID)
	if len(got.Attempts) != 1 {
		t.Fatalf("%d attempts stored", len(got.Attempts))
	}
}

// Item 5: a shopper who paid but never came back is not offered Pay again: the live attempt
// is verified first.
func TestPaidAttemptIsFoundBeforePayAgain(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()
	p := fx.payment(t, 2500, "USD")
	a := fx.attempt(t, p)
	fx.fake.set(a.ProviderRef, providers.StatusPaid) // paid at the provider, no return
	if _, err := fx.svc.StartAttempt(ctx, p.ID, checkout.Choice{Provider: "fake", Method: "other"}); checkout.ErrorCode(err) != checkout.ECONFLICT {
		t.Fatalf("a new attempt on a payment paid at the provider: %v, want ECONFLICT", err)
	}
	if fx.fake.creates != 1 || fx.events(t, p.ID, checkout.EventAttemptPaidTwice) != 0 {
		t.Fatal("a second provider order was created")
	}
	if got, _ := fx.svc.Payment(ctx, p.ID); got.Status != checkout.PaymentPaid {
		t.Fatalf("payment %s", got.Status)
	}
}

// Item 5: while the provider cannot be asked, the shopper waits; once it says not paid, they
// may choose again, and a reading a few seconds old is reused.
func TestUnconfirmedUntilProviderSaysNotPaid(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()
	p := fx.payment(t, 2500, "USD")
	a := fx.attempt(t, p)
	fx.fake.fetchErr = &providers.Error{Provider: "fake", Op: "fetch", Kind: providers.ErrUnavailable}
	if _, waiting, _ := fx.svc.Unconfirmed(ctx, p.ID); waiting == nil || waiting.ID != a.ID {
		t.Fatal("with the provider down, the attempt must be confirmed first")
	}
	fx.fake.fetchErr = nil
	if _, waiting, _ := fx.svc.Unconfirmed(ctx, p.ID); waiting == nil {
		t.Fatal("a reading under 5 seconds old is reused")
	}
	fx.advance(6 * time.Second)
	if _, waiting, _ := fx.svc.Unconfirmed(ctx, p.ID); waiting != nil {
		t.Fatalf("the provider says pending (not paid): the shopper may choose again, got %+v", waiting)
	}
}

// Item 7: cancelling a payment never captures an authorized order; a provider that can void
// is asked to.
func TestCancelNeverCaptures(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()
	p := fx.payment(t, 2500, "USD")
	a := fx.attempt(t, p)
	fx.fake.set(a.ProviderRef, providers.StatusAuthorized)
	if _, err := fx.svc.CancelPayment(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	if fx.fake.captured != 0 {
		t.Fatal("cancelling captured the authorized order")
	}
	// The poller keeps watching the authorization, and never captures it either.
	fx.advance(time.Hour)
	fx.svc.Reconcile(ctx)
	if got, _ := fx.svc.Payment(ctx, p.ID); got.Status != checkout.PaymentCancelled || fx.fake.captured != 0 {
		t.Fatalf("payment %s, captures %d", got.Status, fx.fake.captured)
	}
}

type voidingProvider struct{ *fakeProvider }

func (v voidingProvider) Void(_ context.Context, l providers.Lookup) (providers.Result, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	r := v.orders[l.ProviderRef]
	r.Status = providers.StatusCancelled
	v.orders[l.ProviderRef] = r
	return r, nil
}

func (v voidingProvider) ParseReturn(url.Values) providers.ReturnHint { return providers.ReturnHint{} }

func TestExpiryVoidsWhereTheProviderCan(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()
	fx.svc.Providers = providers.NewRegistry(voidingProvider{fx.fake})
	p := fx.payment(t, 2500, "USD")
	a := fx.attempt(t, p)
	fx.fake.set(a.ProviderRef, providers.StatusAuthorized)
	fx.advance(25 * time.Hour)
	fx.svc.Reconcile(ctx)
	got, _ := fx.svc.Payment(ctx, p.ID)
	if got.Status != checkout.PaymentExpired || fx.fake.captured != 0 || got.Attempts[0].Status != checkout.AttemptCancelled {
		t.Fatalf("payment %s, attempt %s, captures %d", got.Status, got.Attempts[0].Status, fx.fake.captured)
	}
	if fx.events(t, p.ID, checkout.EventAttemptVoided) != 1 {
		t.Fatal("want one attempt.voided event")
	}
}

// Item 8 (first clause): concurrent verifications of one attempt share one provider call,
// and a reading is reused for a few seconds.
func TestVerificationsAreCoalesced(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()
	p := fx.payment(t, 2500, "USD")
	a := fx.attempt(t, p)
	fx.fake.gate, fx.fake.entered = make(chan struct{}), make(chan struct{}, 100)
	var wg sync.WaitGroup
	for range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := fx.svc.VerifyRecent(ctx, p.ID, a.ID); err != nil {
				t.Error(err)
			}
		}()
	}
	<-fx.fake.entered
	close(fx.fake.gate)
	wg.Wait()
	if fx.fake.fetches != 1 {
		t.Fatalf("%d provider calls for 30 concurrent page loads, want 1", fx.fake.fetches)
	}
	fx.advance(6 * time.Second)
	fx.svc.VerifyRecent(ctx, p.ID, a.ID)
	if fx.fake.fetches != 2 {
		t.Fatalf("%d provider calls: a reading older than a few seconds must be renewed", fx.fake.fetches)
	}
}

// Item 1: an attempt failed after its grace period (the provider's search had not found the
// order) is still paid when the provider later notifies Kassa of it.
func TestLateNotificationAfterGraceStillPays(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()
	p := fx.payment(t, 2500, "USD")
	fx.fake.createErr = unavailable()
	a, err := fx.svc.StartAttempt(ctx, p.ID, checkout.Choice{Provider: "fake"})
	if err != nil {
		t.Fatal(err)
	}
	fx.fake.createErr = nil
	fx.advance(5 * time.Minute)
	fx.svc.Reconcile(ctx)
	if got, _ := fx.svc.Store.FindAttempt(ctx, a.ID); got.Status != checkout.AttemptFailed {
		t.Fatalf("attempt %s", got.Status)
	}
	// The provider had the order after all, and the shopper paid it.
	fx.fake.CreateOrder(ctx, providers.Order{Reference: a.ID, Amount: 2500, Currency: "USD"})
	fx.fake.set(fx.refFor(a.ID), providers.StatusPaid)
	found, err := fx.svc.AttemptForCallback(ctx, "fake", providers.CallbackHint{Reference: a.ID})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := fx.svc.VerifyNotified(ctx, found.PaymentID, found.ID); err != nil || v.Payment.Status != checkout.PaymentPaid {
		t.Fatalf("payment %s after the provider's notification, %v", v.Payment.Status, err)
	}
}
