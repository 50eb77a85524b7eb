package checkout_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/kassa-pay/kassa/checkout"
	"github.com/kassa-pay/kassa/providers"
	"github.com/kassa-pay/kassa/providers/onekhusa"
	oksandbox "github.com/kassa-pay/kassa/providers/onekhusa/sandbox"
	"github.com/kassa-pay/kassa/providers/providertest"
)

// TestReversalThroughOneKhusaSandbox pays through the OneKhusa simulator, reverses the payment
// there, reads the reversal the way verification does, and records it as providerReversal will
// (the lead wires converge to RecordProviderReversal at merge): the payment ends refunded, the
// reversal is recorded once however often it is read, and nothing becomes paid again.
func TestReversalThroughOneKhusaSandbox(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()
	sb := oksandbox.New(oksandbox.Config{})
	srv := httptest.NewServer(sb)
	t.Cleanup(func() { srv.Close(); sb.Close() })
	c := oksandbox.DefaultCredentials()
	ok := onekhusa.New(onekhusa.Config{BaseURL: srv.URL + "/v1", APIKey: onekhusa.Secret(c.APIKey), APISecret: onekhusa.Secret(c.APISecret),
		OrganisationID: c.OrganisationID, MerchantAccountNumber: c.MerchantAccountNumber, CapturedBy: c.CapturedBy, Timeout: 10 * time.Second})
	fx.svc.Providers = providers.NewRegistry(ok)

	p := fx.payment(t, 250000, "MWK")
	a, err := fx.svc.StartAttempt(ctx, p.ID, checkout.Choice{Provider: providers.OneKhusa, Method: onekhusa.MethodCheckout})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (providertest.FormShopper{}).Complete(ctx, providers.Session{PayURL: a.PayURL}, providertest.Pay); err != nil {
		t.Fatal(err)
	}
	if v, err := fx.svc.Verify(ctx, p.ID, a.ID); err != nil || v.Payment.Status != checkout.PaymentPaid {
		t.Fatalf("after paying: %+v %v", v, err)
	}
	if err := sb.ReverseTransaction(a.ProviderRef); err != nil {
		t.Fatal(err)
	}
	for range 2 { // read twice, as a webhook and a poll would
		res, err := ok.FetchOrder(ctx, providers.Lookup{ProviderRef: a.ProviderRef, Reference: a.ID, Currency: "MWK"})
		if err != nil || res.Status != providers.StatusRefunded {
			t.Fatalf("reading the reversal: %+v %v", res, err)
		}
		if err := fx.svc.RecordProviderReversal(ctx, p.ID, a.ID, res.Amount); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := fx.svc.Payment(ctx, p.ID)
	if got.Status != checkout.PaymentRefunded || got.RefundedAmount() != 250000 || len(got.Refunds) != 1 ||
		got.Refunds[0].Reason != checkout.ReasonProviderReversal {
		t.Fatalf("after the reversal: %s, refunded %d, refunds %+v", got.Status, got.RefundedAmount(), got.Refunds)
	}
	if v, err := fx.svc.Verify(ctx, p.ID, a.ID); err != nil || v.Payment.Status != checkout.PaymentRefunded {
		t.Fatalf("verifying after the reversal: %+v %v", v.Payment, err)
	}
	if n := fx.events(t, p.ID, checkout.EventPaymentRefunded); n != 1 {
		t.Fatalf("%d payment.refunded events", n)
	}
}
