package checkout

import (
	"time"

	"github.com/kassa-pay/kassa/providers"
)

// Payment is what a shopper pays: created by a merchant, paid through one of its attempts.
type Payment struct {
	// ID is unguessable: it is the capability in the checkout URL.
	ID       string
	ClientID string
	Money
	Reference      string
	ReferenceLabel string
	LineItems      []LineItem
	SuccessURL     string
	CancelURL      string
	Customer       Customer
	Metadata       map[string]string
	Status         PaymentStatus
	ExpiresAt      time.Time
	PaidAt         time.Time
	CreatedAt      time.Time
	UpdatedAt      time.Time
	// Attempts are newest first.
	Attempts []Attempt
	// LinkID is the payment link the payment was created from, if any.
	LinkID string
	// Refunds are oldest first (see refund.go).
	Refunds []Refund
}

// LineItem is one line of what is bought, in the payment's currency's minor units.
type LineItem struct {
	Name       string
	Quantity   int64
	UnitAmount int64
}

// Customer is what the merchant tells Kassa about the shopper; every field is optional.
type Customer struct {
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
	Phone string `json:"phone,omitempty"`
}

// Attempt is one trip of the shopper to a provider.
type Attempt struct {
	ID        string
	PaymentID string
	Provider  providers.ID
	Method    string
	Status    AttemptStatus
	// ProviderRef is the provider's order id, known once the order is created.
	ProviderRef string
	// PayURL is where the shopper was sent.
	PayURL string
	Money
	// Error is the last provider failure or decline reason, for support.
	Error       string
	Checks      int
	NextCheckAt time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// LatestAttempt returns the newest attempt, if any.
func (p *Payment) LatestAttempt() (Attempt, bool) {
	if len(p.Attempts) == 0 {
		return Attempt{}, false
	}
	return p.Attempts[0], true
}

// Attempt returns the payment's attempt with id.
func (p *Payment) Attempt(id string) (Attempt, bool) {
	for _, a := range p.Attempts {
		if a.ID == id {
			return a, true
		}
	}
	return Attempt{}, false
}

// Event is one entry of the append-only log: every transition of a payment or attempt.
type Event struct {
	Seq       int64
	PaymentID string
	AttemptID string
	Type      string
	Data      map[string]any
	CreatedAt time.Time
}

// Event types.
const (
	EventPaymentCreated   = "payment.created"
	EventPaymentPaid      = "payment.paid"
	EventPaymentExpired   = "payment.expired"
	EventPaymentCancelled = "payment.cancelled"
	EventAttemptCreated   = "attempt.created"
	EventAttemptPending   = "attempt.pending"
	EventAttemptFailed    = "attempt.failed"
	// EventAttemptStatus records any other attempt transition; Data["status"] says which.
	EventAttemptStatus = "attempt.status"
	// EventAttemptPaidTwice: a second attempt of an already paid payment was paid too; the
	// merchant has the money twice and must refund one.
	EventAttemptPaidTwice = "attempt.paid_twice"
	// EventAttemptAmountMismatch: the provider reported an amount or currency other than the
	// one asked for (or none); the attempt is in review and is not paid on that reading.
	EventAttemptAmountMismatch = "attempt.amount_mismatch"
	// EventAttemptReversedUnpaid: the provider reports refunded or reversed money for an
	// attempt Kassa never recorded as paid; the payment stays unpaid and the merchant should
	// look at it.
	EventAttemptReversedUnpaid = "attempt.reversed_unpaid"
	// EventAttemptOutcomeUnknown: the provider's answer to the create was lost (a timeout, a
	// reset connection, a 5xx); the attempt stays live and is looked up by Kassa's reference.
	EventAttemptOutcomeUnknown = "attempt.outcome_unknown"
	// EventAttemptVoided: the provider released an authorization or cancelled an order when
	// the payment was closed.
	EventAttemptVoided = "attempt.voided"
)
