package checkout

import (
	"context"
	"errors"

	"github.com/kassa-pay/kassa/providers"
)

// providerReversal records that the provider reports a paid attempt's money given back
// (refunded, partially refunded, or reversed as OneKhusa says): the payment moves from paid to
// refunded or partially refunded with its event, never the other way round. A reversal of a
// second payment (attempt.paid_twice) is only noted: the payment itself stays paid by the
// attempt that paid it.
//
// The refunds work (checkout/refund.go, RecordProviderReversal) takes this over at merge: it
// will record the reversal as a refund with its amount; until then the payment's status and
// event carry it.
func (s *Service) providerReversal(ctx context.Context, a *Attempt, res providers.Result) error {
	p, err := s.Store.FindPayment(ctx, a.PaymentID)
	if err != nil {
		return err
	}
	now := s.now()
	for _, other := range p.Attempts {
		if other.ID != a.ID && other.Status == AttemptPaid && other.CreatedAt.Before(a.CreatedAt) {
			return s.Store.Apply(ctx, Change{Events: []Event{{PaymentID: a.PaymentID, AttemptID: a.ID, Type: EventAttemptStatus,
				CreatedAt: now, Data: map[string]any{"from": string(a.Status), "status": string(a.Status),
					"reason": "provider reports the second payment " + string(res.Status)}}}})
		}
	}
	to, event := PaymentRefunded, EventPaymentRefunded
	if res.Status == providers.StatusPartiallyRefunded {
		to, event = PaymentPartiallyRefunded, EventPaymentPartRefunded
	}
	if p.Status == to || !p.Status.CanBecome(to) {
		return nil // already recorded, or never paid
	}
	err = s.Store.Apply(ctx, Change{
		Payment: &PaymentChange{ID: p.ID, From: []PaymentStatus{p.Status}, To: to, At: now},
		Events: []Event{{PaymentID: p.ID, AttemptID: a.ID, Type: event, CreatedAt: now,
			Data: map[string]any{"provider": string(a.Provider), "providerStatus": string(res.Status), "source": "provider",
				"currency": a.Currency}}},
	})
	if errors.Is(err, ErrConflict) {
		return nil
	}
	return err
}
