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
	// AttemptFailed: the provider refused to create the order, or says it has none for this
	// attempt long after Kassa asked for it.
	AttemptFailed AttemptStatus = "failed"
	// AttemptReview: the provider's reading could not be believed (an amount or currency other
	// than the one asked for, a missing amount, a reversal of money Kassa never recorded). The
	// attempt stays live and keeps being verified: one odd reading never ends it, and a later
	// correct reading pays it. The merchant is told by an event.
	AttemptReview AttemptStatus = "review"
)

// attemptMoves lists the legal transitions. Every unpaid state can still become paid, for the
// same reason as payments: a provider that reports money arrived is believed over Kassa's
// earlier reading (a shopper who declined once can pay the same provider order later).
//
// A creating attempt whose create call had an unknown outcome becomes pending without a
// provider reference: the provider may have acted, so it is looked up, never failed on a guess.
var attemptMoves = map[AttemptStatus][]AttemptStatus{
	AttemptCreating:   {AttemptPending, AttemptFailed},
	AttemptPending:    {AttemptAuthorized, AttemptPaid, AttemptDeclined, AttemptCancelled, AttemptExpired, AttemptFailed, AttemptReview},
	AttemptAuthorized: {AttemptPaid, AttemptDeclined, AttemptCancelled, AttemptExpired, AttemptFailed, AttemptReview},
	AttemptReview:     {AttemptPending, AttemptAuthorized, AttemptPaid, AttemptDeclined, AttemptCancelled, AttemptExpired},
	AttemptDeclined:   {AttemptPaid, AttemptAuthorized, AttemptReview},
	AttemptCancelled:  {AttemptPaid, AttemptAuthorized, AttemptReview},
	AttemptExpired:    {AttemptPaid, AttemptAuthorized, AttemptReview},
	AttemptFailed:     {AttemptPaid, AttemptReview},
}

// CanBecome reports whether s may move to next.
func (s AttemptStatus) CanBecome(next AttemptStatus) bool {
	return slices.Contains(attemptMoves[s], next)
}

// Live reports whether the attempt may still change at the provider without the shopper
// starting anew, so the background job keeps asking about it.
func (s AttemptStatus) Live() bool {
	return s == AttemptPending || s == AttemptAuthorized || s == AttemptReview
}

// Holding reports whether the attempt holds its payment+provider+method slot: at most one
// attempt per payment, provider and method may hold it, so concurrent requests share one
// provider order. A creating attempt holds it too (its order may be on its way).
func (s AttemptStatus) Holding() bool { return s == AttemptCreating || s.Live() }

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
