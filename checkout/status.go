package checkout

import "slices"

// PaymentStatus is where a payment stands, as the merchant API reports it.
type PaymentStatus string

// The payment statuses of the merchant API.
const (
	PaymentOpen              PaymentStatus = "open"
	PaymentPaid              PaymentStatus = "paid"
	PaymentExpired           PaymentStatus = "expired"
	PaymentCancelled         PaymentStatus = "cancelled"
	PaymentRefunded          PaymentStatus = "refunded"
	PaymentPartiallyRefunded PaymentStatus = "partially_refunded"
)

// paymentMoves lists the legal transitions. A payment that expired or was cancelled in Kassa
// can still become paid: when a provider says the money arrived, that is the truth, and the
// merchant must learn of it (and refund if they no longer want it) rather than lose it.
var paymentMoves = map[PaymentStatus][]PaymentStatus{
	PaymentOpen:              {PaymentPaid, PaymentExpired, PaymentCancelled},
	PaymentExpired:           {PaymentPaid},
	PaymentCancelled:         {PaymentPaid},
	PaymentPaid:              {PaymentRefunded, PaymentPartiallyRefunded},
	PaymentPartiallyRefunded: {PaymentPartiallyRefunded, PaymentRefunded},
}

// CanBecome reports whether s may move to next.
func (s PaymentStatus) CanBecome(next PaymentStatus) bool {
	return slices.Contains(paymentMoves[s], next)
}

// paymentStatusesInto lists the statuses that may move to next, for conditional updates.
func paymentStatusesInto(next PaymentStatus) []PaymentStatus {
	var out []PaymentStatus
	for from, tos := range paymentMoves {
		if slices.Contains(tos, next) {
			out = append(out, from)
		}
	}
	slices.Sort(out)
	return out
}

// AttemptStatus is where one trip to a provider stands.
type AttemptStatus string

// The attempt statuses.
const (
	// AttemptCreating: Kassa is creating the provider order; no shopper was sent anywhere yet.
	AttemptCreating AttemptStatus = "creating"
	// AttemptPending: the provider order exists and the shopper was sent to it.
	AttemptPending AttemptStatus = "pending"
	// AttemptAuthorized: the provider reserved the money and waits for a capture.
	AttemptAuthorized AttemptStatus = "authorized"
	AttemptPaid       AttemptStatus = "paid"
	AttemptDeclined   AttemptStatus = "declined"
	AttemptCancelled  AttemptStatus = "cancelled"
	AttemptExpired    AttemptStatus = "expired"
	// AttemptFailed: the provider order could not be created, or the provider's answer could
	// not be trusted (an amount that differs from the one asked for).
	AttemptFailed AttemptStatus = "failed"
)

// attemptMoves lists the legal transitions. Every unpaid state can still become paid, for the
// same reason as payments: a provider that reports money arrived is believed over Kassa's
// earlier reading (a shopper who declined once can pay the same provider order later).
var attemptMoves = map[AttemptStatus][]AttemptStatus{
	AttemptCreating:   {AttemptPending, AttemptFailed},
	AttemptPending:    {AttemptAuthorized, AttemptPaid, AttemptDeclined, AttemptCancelled, AttemptExpired, AttemptFailed},
	AttemptAuthorized: {AttemptPaid, AttemptDeclined, AttemptCancelled, AttemptExpired, AttemptFailed},
	AttemptDeclined:   {AttemptPaid, AttemptAuthorized},
	AttemptCancelled:  {AttemptPaid, AttemptAuthorized},
	AttemptExpired:    {AttemptPaid, AttemptAuthorized},
}

// CanBecome reports whether s may move to next.
func (s AttemptStatus) CanBecome(next AttemptStatus) bool {
	return slices.Contains(attemptMoves[s], next)
}

// Live reports whether the attempt may still change at the provider without the shopper
// starting anew, so the background job keeps asking about it.
func (s AttemptStatus) Live() bool {
	return s == AttemptPending || s == AttemptAuthorized
}

func attemptStatusesInto(next AttemptStatus) []AttemptStatus {
	var out []AttemptStatus
	for from, tos := range attemptMoves {
		if slices.Contains(tos, next) {
			out = append(out, from)
		}
	}
	slices.Sort(out)
	return out
}
