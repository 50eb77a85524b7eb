package checkout

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kassa-pay/kassa/providers"
)

// RefundStatus is where a refund stands, as the merchant API reports it.
type RefundStatus string

// The refund statuses.
const (
	// RefundPending: asked of a provider with a refund API, which has not said yes or no yet.
	RefundPending RefundStatus = "pending"
	// RefundSucceeded: the money is on its way back to the shopper.
	RefundSucceeded RefundStatus = "succeeded"
	// RefundFailed: the provider refused it, or an operator cancelled a manual refund.
	RefundFailed RefundStatus = "failed"
	// RefundManual: the provider has no refund API; an operator returns the money in the
	// provider's own portal and confirms it in Kassa.
	RefundManual RefundStatus = "manual"
)

// refundMoves lists the legal transitions; succeeded and failed are final.
var refundMoves = map[RefundStatus][]RefundStatus{
	RefundPending: {RefundSucceeded, RefundFailed},
	RefundManual:  {RefundSucceeded, RefundFailed},
}

// CanBecome reports whether s may move to next.
func (s RefundStatus) CanBecome(next RefundStatus) bool {
	return slices.Contains(refundMoves[s], next)
}

// Holds reports whether a refund in status s counts against what is left to refund: one that
// succeeded, and one that may still succeed.
func (s RefundStatus) Holds() bool { return s != RefundFailed }

// RefundReason says why money is given back.
type RefundReason string

// The reasons a merchant may give, and the one Kassa records for a provider's own reversal.
const (
	ReasonRequestedByCustomer RefundReason = "requested_by_customer"
	ReasonDuplicate           RefundReason = "duplicate"
	ReasonFraudulent          RefundReason = "fraudulent"
	ReasonOther               RefundReason = "other"
	// ReasonProviderReversal: the provider reversed the payment on its own (a chargeback, a
	// reversed mobile-money transfer); no one in Kassa asked.
	ReasonProviderReversal RefundReason = "provider_reversal"
)

// RefundReasons are the reasons a merchant may give.
var RefundReasons = []RefundReason{ReasonRequestedByCustomer, ReasonDuplicate, ReasonFraudulent, ReasonOther}

// Refund gives back some or all of what one paid attempt collected.
type Refund struct {
	ID        string
	PaymentID string
	// AttemptID is the paid attempt whose money goes back; Provider is its provider.
	AttemptID string
	Provider  providers.ID
	Money
	Reason RefundReason
	Note   string
	Status RefundStatus
	// ProviderRef is the provider's id of the refund, once it has one.
	ProviderRef string
	// Error says why a refund failed, or the last provider error while it is pending.
	Error string
	// RequestedBy is who asked: "token:<id>" for a client token, "oauth:<client>" for the
	// dashboard API, "operator:<email>" for a dashboard user, "provider" for a reversal.
	RequestedBy string
	Checks      int
	NextCheckAt time.Time
	SucceededAt time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Event types of refunds. A refund that succeeds is announced as the payment's new status.
const (
	EventRefundCreated            = "refund.created"
	EventRefundFailed             = "refund.failed"
	EventPaymentRefunded          = "payment.refunded"
	EventPaymentPartiallyRefunded = "payment.partially_refunded"
)

// EventData is the refund as events carry it, with the merchant API's field names.
func (r Refund) EventData() map[string]any {
	m := map[string]any{
		"id": r.ID, "paymentId": r.PaymentID, "attemptId": r.AttemptID, "provider": string(r.Provider),
		"amount": r.Amount, "currencyCode": r.Currency, "status": string(r.Status), "reason": string(r.Reason),
		"createdAt": r.CreatedAt.Format(time.RFC3339Nano),
	}
	if r.Note != "" {
		m["note"] = r.Note
	}
	if r.ProviderRef != "" {
		m["providerReference"] = r.ProviderRef
	}
	if r.Error != "" {
		m["failureReason"] = r.Error
	}
	if !r.SucceededAt.IsZero() {
		m["succeededAt"] = r.SucceededAt.Format(time.RFC3339Nano)
	}
	return m
}

// RefundedAmount is what succeeded refunds gave back.
func (p *Payment) RefundedAmount() int64 {
	var n int64
	for _, r := range p.Refunds {
		if r.Status == RefundSucceeded {
			n += r.Amount
		}
	}
	return n
}

// LastRefundAt is when the latest succeeded refund succeeded, or zero.
func (p *Payment) LastRefundAt() time.Time {
	var t time.Time
	for _, r := range p.Refunds {
		if r.Status == RefundSucceeded && r.SucceededAt.After(t) {
			t = r.SucceededAt
		}
	}
	return t
}

// PaidAmount is what the payment's paid attempts collected: its amount, or twice that when a
// shopper paid two attempts.
func (p *Payment) PaidAmount() int64 {
	var n int64
	for _, a := range p.Attempts {
		if a.Status == AttemptPaid {
			n += a.Amount
		}
	}
	return n
}

// RefundableOn is what is left to refund of attempt a: its amount less the refunds that
// succeeded or may still succeed.
func (p *Payment) RefundableOn(a Attempt) int64 {
	if a.Status != AttemptPaid {
		return 0
	}
	left := a.Amount
	for _, r := range p.Refunds {
		if r.AttemptID == a.ID && r.Status.Holds() {
			left -= r.Amount
		}
	}
	return max(left, 0)
}

// Refundable is what is left to refund of the whole payment.
func (p *Payment) Refundable() int64 {
	var n int64
	for _, a := range p.Attempts {
		n += p.RefundableOn(a)
	}
	return n
}

// refundable reports whether the payment's status allows refunds at all.
func (p *Payment) refundableStatus() bool {
	switch p.Status {
	case PaymentPaid, PaymentPartiallyRefunded, PaymentRefunded:
		return true
	}
	return false
}

// planRefund decides which paid attempt a refund of amount (0: all that is left) comes out of.
// It is the one place the refundable-amount rules live; the store calls it with the payment
// row locked, so what it sees is what the refund is checked against.
func planRefund(p *Payment, amount int64) (Attempt, int64, error) {
	if !p.refundableStatus() {
		return Attempt{}, 0, Errorf(ECONFLICT, "Only a paid payment can be refunded; this one is %s.", p.Status)
	}
	if amount < 0 {
		return Attempt{}, 0, &Error{Code: EINVALID, Message: "The request has invalid fields.",
			Fields: map[string]string{"amount": "must be a positive whole number of minor units"}}
	}
	left := p.Refundable()
	if left == 0 {
		return Attempt{}, 0, &Error{Code: EINVALID, Message: "Nothing is left to refund on this payment.",
			Fields: map[string]string{"amount": "nothing is left to refund"}}
	}
	if amount > left {
		return Attempt{}, 0, &Error{Code: EINVALID, Message: fmt.Sprintf("At most %s can still be refunded.", Money{left, p.Currency}),
			Fields: map[string]string{"amount": fmt.Sprintf("must be at most %d", left)}}
	}
	// The oldest paid attempt first: it is the one that made the payment paid. A second
	// paid attempt (the shopper paid twice) is refunded once the first is used up.
	paid := slices.Clone(p.Attempts)
	slices.Reverse(paid)
	for _, a := range paid {
		n := p.RefundableOn(a)
		if n == 0 {
			continue
		}
		if amount == 0 {
			return a, n, nil
		}
		if amount <= n {
			return a, amount, nil
		}
	}
	return Attempt{}, 0, &Error{Code: EINVALID, Message: "This payment was paid twice; a refund must fit within one of its two payments.",
		Fields: map[string]string{"amount": "must fit within one payment at the provider"}}
}

// refundedStatus is the payment status once its succeeded refunds total refunded.
func refundedStatus(p *Payment, refunded int64) PaymentStatus {
	if refunded >= p.PaidAmount() || p.Status == PaymentRefunded {
		return PaymentRefunded
	}
	return PaymentPartiallyRefunded
}

// RefundStore keeps refunds. Every change to a refund goes through LockRefunds, so the
// refundable amount is checked against what the database holds at that moment.
type RefundStore interface {
	// LockRefunds runs plan in one write transaction with the payment row locked, giving it
	// the payment with its attempts and refunds as they are under the lock, then writes what
	// plan returns. It returns ErrNotFound for an unknown payment, and plan's error (writing
	// nothing) when plan fails.
	LockRefunds(ctx context.Context, paymentID string, plan func(p *Payment) (RefundChange, error)) error
	// FindRefund returns the refund with id or ErrNotFound.
	FindRefund(ctx context.Context, id string) (*Refund, error)
	// DueRefunds lists pending refunds whose next check is due and whose lease is free.
	DueRefunds(ctx context.Context, now time.Time, limit int) ([]Refund, error)
	// ClaimRefund takes the lease of a pending refund until until, for owner; it reports false
	// when someone else holds it or the refund is no longer pending.
	ClaimRefund(ctx context.Context, id, owner string, now, until time.Time) (bool, error)
}

// RefundChange is what LockRefunds writes, atomically: a new refund or a conditional update of
// one, the payment's new status, and their events.
type RefundChange struct {
	Insert *Refund
	// LeaseOwner and LeaseUntil, with Insert, hold the new refund for the caller that will
	// ask the provider, so the background job leaves it alone meanwhile.
	LeaseOwner string
	LeaseUntil time.Time
	Update     *RefundUpdate
	Payment    *PaymentChange
	Events     []Event
}

// RefundUpdate moves refund ID from one of From to To (To may equal a From to only update the
// other fields) and releases its lease.
type RefundUpdate struct {
	ID          string
	From        []RefundStatus
	To          RefundStatus
	ProviderRef string
	Error       string
	Checks      int
	NextCheckAt time.Time // zero: no more checks
	SucceededAt time.Time
	At          time.Time
}

// NewRefund is a request to give money back.
type NewRefund struct {
	// Amount in minor units; zero means all that is left.
	Amount int64
	Reason RefundReason
	Note   string
	// RequestedBy says who asked (see Refund.RequestedBy).
	RequestedBy string
}

// How pending refunds are asked about again.
const (
	refundFirstCheck = 10 * time.Second
	refundMaxCheck   = time.Hour
	// refundLease is how long one caller may hold a pending refund while it asks the
	// provider: well beyond a provider call's timeout.
	refundLease   = 2 * time.Minute
	maxRefundNote = 500
)

func refundCheckDelay(checks int) time.Duration {
	d := refundFirstCheck
	for range checks {
		d *= 2
		if d >= refundMaxCheck {
			return refundMaxCheck
		}
	}
	return d
}

// refunder returns the provider's refund API, if it has one and is configured here.
func (s *Service) refunder(id providers.ID) (providers.Refunder, bool) {
	if s.Providers == nil {
		return nil, false
	}
	pr, ok := s.Providers.Get(id)
	if !ok {
		return nil, false
	}
	rf, ok := pr.(providers.Refunder)
	return rf, ok
}

// CreateRefund gives back amount of a paid payment. Where the paid attempt's provider has a
// refund API the refund is asked of it at once (pending until it answers, then succeeded or
// failed); otherwise it is manual until an operator confirms it. The check of what is left and
// the refund's record are one transaction, so racing refunds never exceed what was paid.
func (s *Service) CreateRefund(ctx context.Context, paymentID string, n NewRefund) (*Refund, error) {
	fe := fieldErrors{}
	if n.Reason == "" {
		n.Reason = ReasonOther
	}
	if !slices.Contains(RefundReasons, n.Reason) {
		fe.add("reason", "must be one of requested_by_customer, duplicate, fraudulent, other")
	}
	if n.Amount < 0 {
		fe.add("amount", "must be a positive whole number of minor units")
	}
	if utf8.RuneCountInString(n.Note) > maxRefundNote || !utf8.ValidString(n.Note) || strings.ContainsRune(n.Note, 0) {
		fe.add("note", fmt.Sprintf("must be text of at most %d characters", maxRefundNote))
	}
	if err := fe.err(); err != nil {
		return nil, err
	}
	now := s.now()
	owner := "request:" + randomID(12)
	var r *Refund
	err := s.refundStore().LockRefunds(ctx, paymentID, func(p *Payment) (RefundChange, error) {
		a, amount, err := planRefund(p, n.Amount)
		if err != nil {
			return RefundChange{}, err
		}
		r = &Refund{ID: "ref_" + randomID(26), PaymentID: p.ID, AttemptID: a.ID, Provider: a.Provider,
			Money: Money{amount, a.Currency}, Reason: n.Reason, Note: n.Note, Status: RefundManual,
			RequestedBy: n.RequestedBy, CreatedAt: now, UpdatedAt: now}
		c := RefundChange{Insert: r}
		if _, ok := s.refunder(a.Provider); ok {
			r.Status, r.NextCheckAt = RefundPending, now.Add(refundFirstCheck)
			c.LeaseOwner, c.LeaseUntil = owner, now.Add(refundLease)
		}
		c.Events = []Event{{PaymentID: p.ID, AttemptID: a.ID, Type: EventRefundCreated, CreatedAt: now,
			Data: map[string]any{"refund": r.EventData()}}}
		return c, nil
	})
	if err != nil {
		return nil, s.refundErr(paymentID, err)
	}
	if r.Status == RefundPending {
		if err := s.askProvider(ctx, r); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func (s *Service) refundStore() RefundStore { return s.Store }

func (s *Service) refundErr(paymentID string, err error) error {
	if errors.Is(err, ErrNotFound) {
		return Errorf(ENOTFOUND, "No payment has id %q.", paymentID)
	}
	return err
}

// askProvider asks the provider for pending refund r (the first time, or again: the refund's
// id is the provider's idempotency key, so asking twice never refunds twice) and records the
// answer in r. An answer that leaves the outcome unknown keeps the refund pending for the
// background job; only a definite refusal fails it.
func (s *Service) askProvider(ctx context.Context, r *Refund) error {
	rf, ok := s.refunder(r.Provider)
	if !ok {
		return s.rescheduleRefund(ctx, r, fmt.Sprintf("provider %s is not configured", r.Provider))
	}
	a, err := s.Store.FindAttempt(ctx, r.AttemptID)
	if err != nil {
		return err
	}
	res, err := rf.Refund(ctx, providers.Refund{
		Lookup: providers.Lookup{ProviderRef: a.ProviderRef, Reference: a.ID, Currency: a.Currency},
		ID:     r.ID, Amount: r.Amount, Reason: string(r.Reason),
	})
	switch {
	case err == nil && res.Status == providers.StatusRefunded:
		return s.finishRefund(ctx, r, RefundSucceeded, res.ProviderRef, "")
	case err == nil && res.Status == providers.StatusDeclined:
		return s.finishRefund(ctx, r, RefundFailed, res.ProviderRef, "refused by "+string(r.Provider))
	case err == nil:
		r.ProviderRef = res.ProviderRef
		return s.rescheduleRefund(ctx, r, "")
	case errors.Is(err, providers.ErrInvalid), errors.Is(err, providers.ErrConflict),
		errors.Is(err, providers.ErrNotFound), errors.Is(err, providers.ErrDeclined):
		s.log().WarnContext(ctx, "provider refused a refund", "refund", r.ID, "err", err)
		return s.finishRefund(ctx, r, RefundFailed, "", err.Error())
	default:
		// Unavailable, timed out, rate limited or our credentials refused: the provider may
		// or may not have acted, so the refund stays pending and is asked again.
		s.log().WarnContext(ctx, "refund outcome unknown: asking again later", "refund", r.ID, "err", err)
		return s.rescheduleRefund(ctx, r, err.Error())
	}
}

// rescheduleRefund keeps r pending, releases its lease and sets when to ask again.
func (s *Service) rescheduleRefund(ctx context.Context, r *Refund, errMsg string) error {
	now := s.now()
	u := &RefundUpdate{ID: r.ID, From: []RefundStatus{RefundPending}, To: RefundPending, ProviderRef: r.ProviderRef,
		Error: errMsg, Checks: r.Checks + 1, NextCheckAt: now.Add(refundCheckDelay(r.Checks + 1)), At: now}
	err := s.refundStore().LockRefunds(ctx, r.PaymentID, func(*Payment) (RefundChange, error) {
		return RefundChange{Update: u}, nil
	})
	if errors.Is(err, ErrConflict) {
		return s.reload(ctx, r) // another caller finished it meanwhile
	}
	if err == nil {
		r.Checks, r.NextCheckAt, r.Error, r.UpdatedAt = u.Checks, u.NextCheckAt, errMsg, now
	}
	return err
}

// finishRefund moves r to succeeded or failed with its events, and the payment to
// partially_refunded or refunded when it succeeded.
func (s *Service) finishRefund(ctx context.Context, r *Refund, to RefundStatus, providerRef, reason string) error {
	now := s.now()
	err := s.refundStore().LockRefunds(ctx, r.PaymentID, func(p *Payment) (RefundChange, error) {
		cur, ok := p.refund(r.ID)
		if !ok {
			return RefundChange{}, ErrNotFound
		}
		if cur.Status == to {
			return RefundChange{}, errSettled
		}
		if !cur.Status.CanBecome(to) {
			return RefundChange{}, Errorf(ECONFLICT, "This refund is %s and can no longer become %s.", cur.Status, to)
		}
		return settle(p, cur, to, providerRef, reason, now), nil
	})
	if errors.Is(err, errSettled) || errors.Is(err, ErrConflict) {
		return s.reload(ctx, r)
	}
	if err != nil {
		return err
	}
	if to == RefundFailed {
		// A provider reversal reported while this refund was pending was held back as
		// possibly this refund (see RecordProviderReversal): read the order again, so a
		// reversal it does not explain is recorded now.
		if a, ferr := s.Store.FindAttempt(ctx, r.AttemptID); ferr == nil && a.Status == AttemptPaid {
			if verr := s.verifyShared(ctx, a, verifyOpts{evenPaid: true}); verr != nil {
				s.log().WarnContext(ctx, "order not read again after a failed refund", "refund", r.ID, "err", verr)
			}
		}
	}
	return s.reload(ctx, r)
}

// errSettled ends a plan that finds the refund already where it was going.
var errSettled = errors.New("checkout: refund already settled")

// settle is the change that moves refund cur of payment p (locked) to succeeded or failed.
func settle(p *Payment, cur Refund, to RefundStatus, providerRef, reason string, now time.Time) RefundChange {
	u := &RefundUpdate{ID: cur.ID, From: []RefundStatus{cur.Status}, To: to, ProviderRef: providerRef, Error: reason,
		Checks: cur.Checks, At: now}
	done := cur
	done.Status, done.UpdatedAt = to, now
	if providerRef != "" {
		done.ProviderRef = providerRef
	}
	if reason != "" {
		done.Error = reason
	}
	c := RefundChange{Update: u}
	if to == RefundFailed {
		c.Events = []Event{{PaymentID: p.ID, AttemptID: cur.AttemptID, Type: EventRefundFailed, CreatedAt: now,
			Data: map[string]any{"refund": done.EventData()}}}
		return c
	}
	u.SucceededAt, done.SucceededAt = now, now
	refunded := p.RefundedAmount() + cur.Amount
	next := refundedStatus(p, refunded)
	if p.Status.CanBecome(next) {
		c.Payment = &PaymentChange{ID: p.ID, From: []PaymentStatus{p.Status}, To: next, At: now}
	} // else already refunded: only the event tells of the extra money back
	ev := EventPaymentPartiallyRefunded
	if next == PaymentRefunded {
		ev = EventPaymentRefunded
	}
	c.Events = []Event{{PaymentID: p.ID, AttemptID: cur.AttemptID, Type: ev, CreatedAt: now,
		Data: map[string]any{"refund": done.EventData(), "refundedAmount": refunded}}}
	return c
}

// pendingOn is what refunds asked of the provider and not yet answered hold of attempt id.
func (p *Payment) pendingOn(id string) int64 {
	var n int64
	for _, r := range p.Refunds {
		if r.AttemptID == id && r.Status == RefundPending {
			n += r.Amount
		}
	}
	return n
}

// succeededOn is what succeeded refunds gave back of attempt id.
func (p *Payment) succeededOn(id string) int64 {
	var n int64
	for _, r := range p.Refunds {
		if r.AttemptID == id && r.Status == RefundSucceeded {
			n += r.Amount
		}
	}
	return n
}

func (p *Payment) refund(id string) (Refund, bool) {
	for _, r := range p.Refunds {
		if r.ID == id {
			return r, true
		}
	}
	return Refund{}, false
}

// reload refreshes r from the store.
func (s *Service) reload(ctx context.Context, r *Refund) error {
	cur, err := s.refundStore().FindRefund(ctx, r.ID)
	if err != nil {
		return err
	}
	*r = *cur
	return nil
}

// Refund returns the refund with id.
func (s *Service) Refund(ctx context.Context, id string) (*Refund, error) {
	r, err := s.refundStore().FindRefund(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, Errorf(ENOTFOUND, "No refund has id %q.", id)
	}
	return r, err
}

// Refunds returns the payment's refunds, oldest first.
func (s *Service) Refunds(ctx context.Context, paymentID string) ([]Refund, error) {
	p, err := s.Payment(ctx, paymentID)
	if err != nil {
		return nil, err
	}
	return p.Refunds, nil
}

// ConfirmRefund records that an operator returned the money of a manual refund in the
// provider's own portal: the refund succeeds and the payment follows. Confirming a refund that
// already succeeded changes nothing.
func (s *Service) ConfirmRefund(ctx context.Context, id string) (*Refund, error) {
	return s.decideManual(ctx, id, RefundSucceeded)
}

// CancelRefund withdraws a manual refund before it is confirmed: it fails, and its amount is
// refundable again. Cancelling a refund that already failed changes nothing.
func (s *Service) CancelRefund(ctx context.Context, id string) (*Refund, error) {
	return s.decideManual(ctx, id, RefundFailed)
}

func (s *Service) decideManual(ctx context.Context, id string, to RefundStatus) (*Refund, error) {
	r, err := s.Refund(ctx, id)
	if err != nil {
		return nil, err
	}
	now := s.now()
	reason := ""
	if to == RefundFailed {
		reason = "cancelled by an operator"
	}
	err = s.refundStore().LockRefunds(ctx, r.PaymentID, func(p *Payment) (RefundChange, error) {
		cur, ok := p.refund(id)
		if !ok {
			return RefundChange{}, ErrNotFound
		}
		switch {
		case cur.Status == to:
			return RefundChange{}, errSettled
		case cur.Status != RefundManual:
			verb := map[RefundStatus]string{RefundSucceeded: "confirmed", RefundFailed: "cancelled"}[to]
			return RefundChange{}, Errorf(ECONFLICT, "Only a manual refund awaiting confirmation can be %s; this one is %s.", verb, cur.Status)
		case to == RefundSucceeded:
			if a, _ := p.Attempt(cur.AttemptID); p.succeededOn(a.ID)+cur.Amount > a.Amount {
				// A provider reversal already gave this money back: confirming would count it twice.
				return RefundChange{}, Errorf(ECONFLICT, "The provider already reported this money returned; cancel this refund instead.")
			}
		}
		return settle(p, cur, to, "", reason, now), nil
	})
	if err != nil && !errors.Is(err, errSettled) {
		return nil, err
	}
	return s.Refund(ctx, id)
}

// RecordProviderReversal records that the provider reversed amount of a paid attempt on its own
// (OneKhusa's R, a reversed-payment webhook): a succeeded refund with reason
// provider_reversal, moving the payment to partially_refunded or refunded.
//
// amount is the total the provider reports returned on that attempt (a full reversal: the
// attempt's amount). Only what Kassa does not already know of is recorded: amount less the
// attempt's succeeded refunds, whatever their reason. So the same reversal reported twice is
// recorded once, a larger later report adds only the difference, and a reading that merely
// reflects refunds made through Kassa (a manual refund the operator made as a reversal in the
// provider's portal and confirmed) adds nothing. A manual refund still awaiting confirmation
// stays as it is; confirming it beyond what the attempt collected is then refused (see
// decideManual), so the operator cancels it instead.
func (s *Service) RecordProviderReversal(ctx context.Context, paymentID, attemptID string, amount int64) error {
	now := s.now()
	err := s.refundStore().LockRefunds(ctx, paymentID, func(p *Payment) (RefundChange, error) {
		a, ok := p.Attempt(attemptID)
		if !ok {
			return RefundChange{}, Errorf(ENOTFOUND, "Payment %s has no attempt %s.", paymentID, attemptID)
		}
		if a.Status != AttemptPaid || !p.refundableStatus() {
			// Money that never arrived cannot be reversed: nothing to record.
			return RefundChange{}, errSettled
		}
		// A refund asked of the provider and not yet answered is known too: the reversal
		// reported is most likely that refund, which would otherwise be counted twice when
		// it succeeds. Should it fail instead, the order is read again (see finishRefund)
		// and the reversal recorded then.
		n := min(amount, a.Amount) - p.succeededOn(attemptID) - p.pendingOn(attemptID)
		if n <= 0 {
			return RefundChange{}, errSettled
		}
		r := Refund{ID: "ref_" + randomID(26), PaymentID: p.ID, AttemptID: a.ID, Provider: a.Provider, Money: Money{n, a.Currency},
			Reason: ReasonProviderReversal, Status: RefundSucceeded, RequestedBy: "provider", SucceededAt: now, CreatedAt: now, UpdatedAt: now}
		// Inserted as succeeded at once: settle computes the payment's move from a refund
		// that was holding, so it is handed one in its prior state.
		held := r
		held.Status = RefundPending
		c := settle(p, held, RefundSucceeded, "", "", now)
		c.Update, c.Insert = nil, &r
		c.Events = append([]Event{{PaymentID: p.ID, AttemptID: a.ID, Type: EventRefundCreated, CreatedAt: now,
			Data: map[string]any{"refund": r.EventData()}}}, c.Events...)
		return c, nil
	})
	if errors.Is(err, errSettled) {
		return nil
	}
	return s.refundErr(paymentID, err)
}

// PollRefunds is the refund job's one pass: it claims pending refunds that are due, one at a
// time with a lease (so several instances share the work and never ask about one refund at
// once), and asks their providers again. It returns how many it asked about.
func (s *Service) PollRefunds(ctx context.Context) (int, error) {
	now := s.now()
	due, err := s.refundStore().DueRefunds(ctx, now, 50)
	if err != nil {
		return 0, err
	}
	owner := "job:" + randomID(12)
	n := 0
	for _, r := range due {
		ok, err := s.refundStore().ClaimRefund(ctx, r.ID, owner, now, now.Add(refundLease))
		if err != nil {
			return n, err
		}
		if !ok {
			continue
		}
		n++
		if err := s.askProvider(ctx, &r); err != nil {
			s.log().ErrorContext(ctx, "refund check not recorded", "refund", r.ID, "err", err)
		}
	}
	return n, nil
}

// RunRefunds calls PollRefunds every interval until ctx ends.
func (s *Service) RunRefunds(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.PollRefunds(ctx); err != nil && ctx.Err() == nil {
				s.log().ErrorContext(ctx, "poll refunds", "err", err)
			}
		}
	}
}
