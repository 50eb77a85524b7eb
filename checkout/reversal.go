package checkout

import (
	"context"
	"errors"

	"github.com/kassa-pay/kassa/providers"
)

// providerReversal records that the provider reports a paid attempt's money given back
// (refunded, or reversed as OneKhusa says): a refund with reason provider_reversal through
// RecordProviderReversal, so the payment moves from paid to refunded with its event and its
// refundedAmount, never the other way round. A reversal of a second payment
// (attempt.paid_twice) is only noted: the payment itself stays paid by the attempt that paid it.
//
// A partially_refunded reading does not say how much went back (the adapters report the
// order's amount), so it records no refund of its own: refunds made through Kassa explain it,
// and otherwise the note in the log asks the merchant to look.
func (s *Service) providerReversal(ctx context.Context, a *Attempt, res providers.Result) error {
	p, err := s.Store.FindPayment(ctx, a.PaymentID)
	if err != nil {
		return err
	}
	now := s.now()
	note := func(reason string) error {
		return s.Store.Apply(ctx, Change{Events: []Event{{PaymentID: a.PaymentID, AttemptID: a.ID, Type: EventAttemptStatus,
			CreatedAt: now, Data: map[string]any{"from": string(a.Status), "status": string(a.Status), "reason": reason}}}})
	}
	for _, other := range p.Attempts {
		if other.ID != a.ID && other.Status == AttemptPaid && other.CreatedAt.Before(a.CreatedAt) {
			return note("provider reports the second payment " + string(res.Status))
		}
	}
	if res.Status == providers.StatusRefunded {
		err := s.RecordProviderReversal(ctx, a.PaymentID, a.ID, a.Amount)
		if errors.Is(err, ErrConflict) {
			return nil
		}
		return err
	}
	if p.Status == PaymentPartiallyRefunded || p.Status == PaymentRefunded {
		return nil // Kassa's own refunds already account for it
	}
	return note("provider reports the payment partially refunded; no refund through Kassa explains it")
}
