package checkout_test

import (
	"context"
	"sync"
	"testing"

	"github.com/kassa-pay/kassa/checkout"
	"github.com/kassa-pay/kassa/providers"
)

// refundingFake is the fake provider with a refund API whose answers the test sets.
type refundingFake struct {
	*fakeProvider
	rmu     sync.Mutex
	answer  providers.Status // what the next refund call answers
	err     error
	calls   map[string]int // refund id -> calls
	amounts map[string]int64
}

var _ providers.Refunder = (*refundingFake)(nil)

func (f *refundingFake) Refund(_ context.Context, r providers.Refund) (providers.RefundResult, error) {
	f.rmu.Lock()
	defer f.rmu.Unlock()
	f.calls[r.ID]++
	f.amounts[r.ID] = r.Amount
	if f.err != nil {
		return providers.RefundResult{}, f.err
	}
	return providers.RefundResult{ProviderRef: "rf_" + r.ID, Status: f.answer}, nil
}

func (f *refundingFake) set(st providers.Status, err error) {
	f.rmu.Lock()
	defer f.rmu.Unlock()
	f.answer, f.err = st, err
}

// newRefundFixture is the fixture with the fake provider able to refund.
func newRefundFixture(t *testing.T) (*fixture, *refundingFake) {
	fx := newFixture(t)
	rf := &refundingFake{fakeProvider: fx.fake, answer: providers.StatusRefunded, calls: map[string]int{}, amounts: map[string]int64{}}
	fx.svc.Providers = providers.NewRegistry(rf)
	return fx, rf
}

// paid returns a payment of amount paid through the fake provider.
func (fx *fixture) paid(t *testing.T, amount int64) (*checkout.Payment, *checkout.Attempt) {
	t.Helper()
	p := fx.payment(t, amount, "USD")
	a := fx.attempt(t, p)
	fx.fake.set(a.ProviderRef, providers.StatusPaid)
	if v, err := fx.svc.Verify(context.Background(), p.ID, a.ID); err != nil || v.Payment.Status != checkout.PaymentPaid {
		t.Fatalf("paying: %+v %v", v, err)
	}
	return p, a
}

func TestRefundThroughProviderAPI(t *testing.T) {
	fx, rf := newRefundFixture(t)
	ctx := context.Background()
	p, a := fx.paid(t, 1000)

	r, err := fx.svc.CreateRefund(ctx, p.ID, checkout.NewRefund{Amount: 300, Reason: checkout.ReasonRequestedByCustomer, RequestedBy: "token:t1"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != checkout.RefundSucceeded || r.AttemptID != a.ID || r.ProviderRef != "rf_"+r.ID || r.SucceededAt.IsZero() {
		t.Fatalf("refund %+v", r)
	}
	got, _ := fx.svc.Payment(ctx, p.ID)
	if got.Status != checkout.PaymentPartiallyRefunded || got.RefundedAmount() != 300 || len(got.Refunds) != 1 {
		t.Fatalf("payment %s refunded %d, refunds %d", got.Status, got.RefundedAmount(), len(got.Refunds))
	}
	if n := fx.events(t, p.ID, checkout.EventPaymentPartiallyRefunded); n != 1 {
		t.Fatalf("%d payment.partially_refunded events", n)
	}

	// The provider cannot be reached: the refund stays pending, holding its amount, and the
	// job asks again with the same refund id until the provider answers.
	rf.set("", &providers.Error{Provider: "fake", Op: "refund", Kind: providers.ErrUnavailable})
	r2, err := fx.svc.CreateRefund(ctx, p.ID, checkout.NewRefund{})
	if err != nil {
		t.Fatal(err)
	}
	if r2.Status != checkout.RefundPending || r2.Amount != 700 || r2.Error == "" {
		t.Fatalf("refund while the provider is down: %+v", r2)
	}
	if _, err := fx.svc.CreateRefund(ctx, p.ID, checkout.NewRefund{Amount: 1}); checkout.ErrorCode(err) != checkout.EINVALID {
		t.Fatalf("a pending refund must hold its amount: %v", err)
	}
	if n, err := fx.svc.PollRefunds(ctx); err != nil || n != 0 {
		t.Fatalf("poll before the refund is due: %d %v", n, err)
	}
	fx.advance(30e9)
	rf.set(providers.StatusPending, nil)
	if n, err := fx.svc.PollRefunds(ctx); err != nil || n != 1 {
		t.Fatalf("poll: %d %v", n, err)
	}
	if cur, _ := fx.svc.Refund(ctx, r2.ID); cur.Status != checkout.RefundPending || cur.Checks != 2 || cur.Error != "" {
		t.Fatalf("after a pending answer: %+v", cur)
	}
	fx.advance(3600e9)
	rf.set(providers.StatusRefunded, nil)
	if n, err := fx.svc.PollRefunds(ctx); err != nil || n != 1 {
		t.Fatalf("poll: %d %v", n, err)
	}
	if rf.calls[r2.ID] != 3 || rf.amounts[r2.ID] != 700 {
		t.Fatalf("the provider was asked %d times for %d", rf.calls[r2.ID], rf.amounts[r2.ID])
	}
	got, _ = fx.svc.Payment(ctx, p.ID)
	if got.Status != checkout.PaymentRefunded || got.RefundedAmount() != 1000 {
		t.Fatalf("payment %s refunded %d", got.Status, got.RefundedAmount())
	}
	if n := fx.events(t, p.ID, checkout.EventPaymentRefunded); n != 1 {
		t.Fatalf("%d payment.refunded events", n)
	}
	if n, _ := fx.svc.PollRefunds(ctx); n != 0 {
		t.Fatalf("a final refund was polled again")
	}
	if _, err := fx.svc.CreateRefund(ctx, p.ID, checkout.NewRefund{}); checkout.ErrorCode(err) != checkout.EINVALID {
		t.Fatalf("refunding a refunded payment: %v, want EINVALID", err)
	}
}

func TestRefundRefusedByProvider(t *testing.T) {
	fx, rf := newRefundFixture(t)
	ctx := context.Background()
	p, _ := fx.paid(t, 1000)
	rf.set(providers.StatusDeclined, nil)
	r, err := fx.svc.CreateRefund(ctx, p.ID, checkout.NewRefund{Amount: 400})
	if err != nil || r.Status != checkout.RefundFailed || r.Error == "" {
		t.Fatalf("declined refund: %+v %v", r, err)
	}
	rf.set("", &providers.Error{Provider: "fake", Op: "refund", Kind: providers.ErrConflict, Message: "not refundable"})
	r, err = fx.svc.CreateRefund(ctx, p.ID, checkout.NewRefund{Amount: 400})
	if err != nil || r.Status != checkout.RefundFailed {
		t.Fatalf("refused refund: %+v %v", r, err)
	}
	if n := fx.events(t, p.ID, checkout.EventRefundFailed); n != 2 {
		t.Fatalf("%d refund.failed events, want 2", n)
	}
	got, _ := fx.svc.Payment(ctx, p.ID)
	if got.Status != checkout.PaymentPaid || got.Refundable() != 1000 {
		t.Fatalf("after failed refunds: %s, refundable %d", got.Status, got.Refundable())
	}
}

func TestManualRefundConfirmAndCancel(t *testing.T) {
	fx := newFixture(t) // the plain fake has no refund API
	ctx := context.Background()
	p, _ := fx.paid(t, 1000)
	r, err := fx.svc.CreateRefund(ctx, p.ID, checkout.NewRefund{Amount: 600, Note: "returned the parcel"})
	if err != nil || r.Status != checkout.RefundManual || r.Reason != checkout.ReasonOther {
		t.Fatalf("manual refund: %+v %v", r, err)
	}
	other, err := fx.svc.CreateRefund(ctx, p.ID, checkout.NewRefund{})
	if err != nil || other.Amount != 400 {
		t.Fatalf("the rest: %+v %v", other, err)
	}
	if _, err := fx.svc.CancelRefund(ctx, other.ID); err != nil {
		t.Fatal(err)
	}
	if again, err := fx.svc.CancelRefund(ctx, other.ID); err != nil || again.Status != checkout.RefundFailed {
		t.Fatalf("cancelling twice: %+v %v", again, err)
	}
	if _, err := fx.svc.ConfirmRefund(ctx, other.ID); checkout.ErrorCode(err) != checkout.ECONFLICT {
		t.Fatalf("confirming a cancelled refund: %v, want ECONFLICT", err)
	}
	got, _ := fx.svc.Payment(ctx, p.ID)
	if got.Status != checkout.PaymentPaid || got.Refundable() != 400 {
		t.Fatalf("before confirming: %s, refundable %d", got.Status, got.Refundable())
	}
	done, err := fx.svc.ConfirmRefund(ctx, r.ID)
	if err != nil || done.Status != checkout.RefundSucceeded {
		t.Fatalf("confirm: %+v %v", done, err)
	}
	if again, err := fx.svc.ConfirmRefund(ctx, r.ID); err != nil || again.Status != checkout.RefundSucceeded {
		t.Fatalf("confirming twice: %+v %v", again, err)
	}
	if _, err := fx.svc.CancelRefund(ctx, r.ID); checkout.ErrorCode(err) != checkout.ECONFLICT {
		t.Fatalf("cancelling a confirmed refund: %v, want ECONFLICT", err)
	}
	got, _ = fx.svc.Payment(ctx, p.ID)
	if got.Status != checkout.PaymentPartiallyRefunded || got.RefundedAmount() != 600 {
		t.Fatalf("after confirming: %s, refunded %d", got.Status, got.RefundedAmount())
	}
	if n := fx.events(t, p.ID, checkout.EventPaymentPartiallyRefunded); n != 1 {
		t.Fatalf("%d payment.partially_refunded events after confirming twice", n)
	}
	if _, err := fx.svc.ConfirmRefund(ctx, "ref_nope"); checkout.ErrorCode(err) != checkout.ENOTFOUND {
		t.Fatalf("unknown refund: %v", err)
	}
}

func TestRefundErrors(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()
	open := fx.payment(t, 1000, "USD")
	if _, err := fx.svc.CreateRefund(ctx, open.ID, checkout.NewRefund{}); checkout.ErrorCode(err) != checkout.ECONFLICT {
		t.Fatalf("refunding an open payment: %v, want ECONFLICT", err)
	}
	if _, err := fx.svc.CreateRefund(ctx, "pay_nope", checkout.NewRefund{}); checkout.ErrorCode(err) != checkout.ENOTFOUND {
		t.Fatalf("refunding an unknown payment: %v, want ENOTFOUND", err)
	}
	p, _ := fx.paid(t, 1000)
	for _, n := range []checkout.NewRefund{{Amount: 1001}, {Amount: -1}, {Reason: "because"}, {Reason: checkout.ReasonProviderReversal}} {
		if _, err := fx.svc.CreateRefund(ctx, p.ID, n); checkout.ErrorCode(err) != checkout.EINVALID {
			t.Errorf("refund %+v: %v, want EINVALID", n, err)
		}
	}
	if got, _ := fx.svc.Payment(ctx, p.ID); len(got.Refunds) != 0 {
		t.Fatalf("refused refunds left %d records", len(got.Refunds))
	}
}

// TestRacingRefundsNeverExceedPaid: 20 refunds of 70 race for a payment of 1000 through the
// real store; exactly 14 fit, the rest are refused, and what is held never exceeds the paid
// amount.
func TestRacingRefundsNeverExceedPaid(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()
	p, _ := fx.paid(t, 1000)
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, refused := 0, 0
	start := make(chan struct{})
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := fx.svc.CreateRefund(ctx, p.ID, checkout.NewRefund{Amount: 70})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case checkout.ErrorCode(err) == checkout.EINVALID:
				refused++
			default:
				t.Error(err)
			}
		}()
	}
	close(start)
	wg.Wait()
	got, _ := fx.svc.Payment(ctx, p.ID)
	var held int64
	for _, r := range got.Refunds {
		held += r.Amount
	}
	if ok != 14 || refused != 6 || held != 980 || got.Refundable() != 20 {
		t.Fatalf("%d refunds made, %d refused, %d held, %d left; want 14, 6, 980, 20", ok, refused, held, got.Refundable())
	}
}

func TestProviderReversal(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()
	p, a := fx.paid(t, 1000)
	if _, err := fx.svc.CreateRefund(ctx, p.ID, checkout.NewRefund{Amount: 200}); err != nil { // manual, unconfirmed
		t.Fatal(err)
	}
	for range 2 { // the same reversal reported twice
		if err := fx.svc.RecordProviderReversal(ctx, p.ID, a.ID, 1000); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := fx.svc.Payment(ctx, p.ID)
	var reversals int
	for _, r := range got.Refunds {
		if r.Reason == checkout.ReasonProviderReversal {
			reversals++
			if r.Status != checkout.RefundSucceeded || r.Amount != 1000 || r.RequestedBy != "provider" {
				t.Errorf("reversal %+v", r)
			}
		}
	}
	if reversals != 1 || got.Status != checkout.PaymentRefunded || got.RefundedAmount() != 1000 {
		t.Fatalf("%d reversals, payment %s refunded %d", reversals, got.Status, got.RefundedAmount())
	}
	if n := fx.events(t, p.ID, checkout.EventPaymentRefunded); n != 1 {
		t.Fatalf("%d payment.refunded events", n)
	}
	// The manual refund still waiting cannot be confirmed on top of the reversal.
	var manual string
	for _, r := range got.Refunds {
		if r.Status == checkout.RefundManual {
			manual = r.ID
		}
	}
	if _, err := fx.svc.ConfirmRefund(ctx, manual); checkout.ErrorCode(err) != checkout.ECONFLICT {
		t.Fatalf("confirming a manual refund after a full reversal: %v, want ECONFLICT", err)
	}
	if _, err := fx.svc.CancelRefund(ctx, manual); err != nil {
		t.Fatal(err)
	}

	// A manual refund made as a reversal in the provider's portal and confirmed: the
	// provider's later report of that reversal adds nothing.
	pm, am := fx.paid(t, 1000)
	mr, _ := fx.svc.CreateRefund(ctx, pm.ID, checkout.NewRefund{})
	if _, err := fx.svc.ConfirmRefund(ctx, mr.ID); err != nil {
		t.Fatal(err)
	}
	if err := fx.svc.RecordProviderReversal(ctx, pm.ID, am.ID, 1000); err != nil {
		t.Fatal(err)
	}
	if got, _ := fx.svc.Payment(ctx, pm.ID); got.RefundedAmount() != 1000 || len(got.Refunds) != 1 {
		t.Fatalf("a reversal already confirmed was recorded again: refunded %d, %d refunds", got.RefundedAmount(), len(got.Refunds))
	}

	// A partial reversal, then a larger one: only the difference is recorded.
	p2, a2 := fx.paid(t, 1000)
	fx.svc.RecordProviderReversal(ctx, p2.ID, a2.ID, 300)
	fx.svc.RecordProviderReversal(ctx, p2.ID, a2.ID, 300)
	if got, _ := fx.svc.Payment(ctx, p2.ID); got.Status != checkout.PaymentPartiallyRefunded || got.RefundedAmount() != 300 {
		t.Fatalf("partial reversal: %s %d", got.Status, got.RefundedAmount())
	}
	fx.svc.RecordProviderReversal(ctx, p2.ID, a2.ID, 1000)
	if got, _ := fx.svc.Payment(ctx, p2.ID); got.Status != checkout.PaymentRefunded || got.RefundedAmount() != 1000 || len(got.Refunds) != 2 {
		t.Fatalf("full reversal after a partial one: %s %d, %d refunds", got.Status, got.RefundedAmount(), len(got.Refunds))
	}

	// A reversal of an attempt that never paid never makes anything paid or refunded.
	p3 := fx.payment(t, 1000, "USD")
	a3 := fx.attempt(t, p3)
	if err := fx.svc.RecordProviderReversal(ctx, p3.ID, a3.ID, 1000); err != nil {
		t.Fatal(err)
	}
	if got, _ := fx.svc.Payment(ctx, p3.ID); got.Status != checkout.PaymentOpen || len(got.Refunds) != 0 {
		t.Fatalf("reversal of an unpaid attempt: %s, %d refunds", got.Status, len(got.Refunds))
	}
	if err := fx.svc.RecordProviderReversal(ctx, "pay_nope", a3.ID, 1); checkout.ErrorCode(err) != checkout.ENOTFOUND {
		t.Fatalf("unknown payment: %v", err)
	}
}
