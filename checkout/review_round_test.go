package checkout_test

import (
	"context"
	"testing"
	"time"

	"github.com/kassa-pay/kassa/checkout"
	"github.com/kassa-pay/kassa/providers"
)

// A refund asked of the provider is still pending when the provider reports the order
// refunded (its own notification of that very refund arrives before Kassa's next check).
// Kassa must not count the money twice: once as a provider reversal, and again when the
// pending refund succeeds.
func TestReversalWhileRefundPendingCountsOnce(t *testing.T) {
	fx, rf := newRefundFixture(t)
	ctx := context.Background()
	p, a := fx.paid(t, 1000)

	rf.set("", &providers.Error{Provider: "fake", Op: "refund", Kind: providers.ErrUnavailable})
	r, err := fx.svc.CreateRefund(ctx, p.ID, checkout.NewRefund{})
	if err != nil || r.Status != checkout.RefundPending {
		t.Fatalf("refund: %+v %v", r, err)
	}
	// The provider reports the order refunded in full.
	if err := fx.svc.RecordProviderReversal(ctx, p.ID, a.ID, 1000); err != nil {
		t.Fatal(err)
	}
	// The pending refund then succeeds at the provider.
	fx.advance(30e9)
	rf.set(providers.StatusRefunded, nil)
	if _, err := fx.svc.PollRefunds(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ := fx.svc.Payment(ctx, p.ID)
	if got.RefundedAmount() > got.PaidAmount() {
		t.Fatalf("refundedAmount %d exceeds the %d paid (refunds %+v)", got.RefundedAmount(), got.PaidAmount(), got.Refunds)
	}
	if got.Status != checkout.PaymentRefunded || got.RefundedAmount() != 1000 {
		t.Fatalf("payment %s refunded %d, want refunded 1000", got.Status, got.RefundedAmount())
	}
}

// The pending refund is refused after the provider reported the order reversed on its own:
// the reversal, held back while the refund could still explain it, is then recorded.
func TestReversalRecordedWhenPendingRefundFails(t *testing.T) {
	fx, rf := newRefundFixture(t)
	ctx := context.Background()
	p, a := fx.paid(t, 1000)

	rf.set("", &providers.Error{Provider: "fake", Op: "refund", Kind: providers.ErrUnavailable})
	r, err := fx.svc.CreateRefund(ctx, p.ID, checkout.NewRefund{Amount: 400})
	if err != nil || r.Status != checkout.RefundPending {
		t.Fatalf("refund: %+v %v", r, err)
	}
	if err := fx.svc.RecordProviderReversal(ctx, p.ID, a.ID, 1000); err != nil {
		t.Fatal(err)
	}
	fx.fake.set(a.ProviderRef, providers.StatusRefunded)
	fx.advance(30e9)
	rf.set(providers.StatusDeclined, nil)
	if _, err := fx.svc.PollRefunds(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ := fx.svc.Payment(ctx, p.ID)
	if got.Status != checkout.PaymentRefunded || got.RefundedAmount() != 1000 {
		t.Fatalf("payment %s refunded %d, want refunded 1000 (refunds %+v)", got.Status, got.RefundedAmount(), got.Refunds)
	}
}

// An application's name and a token's label are text the database stores as such: a NUL or
// bytes that are not UTF-8 are refused as invalid fields (PostgreSQL refuses them with an
// error, which answered 500), and nothing is stored.
func TestAppNameAndTokenLabelMustBeText(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()
	for _, bad := range []string{"Shop\x00", "Shop\xff"} {
		if _, err := fx.svc.NewApp(ctx, bad, ""); checkout.ErrorCode(err) != checkout.EINVALID {
			t.Errorf("app name %q: %v, want EINVALID", bad, err)
		}
		if _, err := fx.svc.UpdateApp(ctx, fx.app.ClientID, checkout.AppPatch{Name: &bad}); checkout.ErrorCode(err) != checkout.EINVALID {
			t.Errorf("app rename %q: %v, want EINVALID", bad, err)
		}
		if _, _, err := fx.svc.NewToken(ctx, fx.app.ClientID, []checkout.Scope{checkout.ScopeAll}, bad, time.Time{}); checkout.ErrorCode(err) != checkout.EINVALID {
			t.Errorf("token label %q: %v, want EINVALID", bad, err)
		}
	}
}
