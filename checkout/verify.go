package checkout

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kassa-pay/kassa/providers"
)

// How often live attempts are asked about: soon after the shopper left, then less and less.
const (
	firstCheckDelay = 20 * time.Second
	maxCheckDelay   = 10 * time.Minute
	// attemptGiveUp is how long after the payment's expiry a still-pending attempt is polled.
	// A later return or callback still verifies it: giving up only stops the polling.
	attemptGiveUp = 24 * time.Hour
	// staleCreating is how long an attempt may sit in AttemptCreating before the job takes
	// it over: the process died between recording the attempt and the provider's answer, so
	// the create may or may not have reached the provider.
	staleCreating = 2 * time.Minute
	// unknownOutcomeGrace is how long after its create an attempt whose create's answer was
	// lost keeps being looked up by Kassa's reference before the provider's "no such order"
	// is believed and the attempt failed.
	unknownOutcomeGrace = 2 * time.Minute
	// readingMaxAge is how old a provider reading may be and still be reused by pages anyone
	// may reload (the checkout and confirming pages), so reloads do not drive provider calls.
	// It is under the confirming page's 3-second refresh, so a shopper waiting there gets a
	// fresh reading on every refresh while a flood of reloads makes one call per interval.
	readingMaxAge = 2500 * time.Millisecond
)

func checkDelay(checks int) time.Duration {
	d := firstCheckDelay
	for range checks {
		d *= 2
		if d >= maxCheckDelay {
			return maxCheckDelay
		}
	}
	return d
}

// Verification is the outcome of asking a provider about an attempt.
type Verification struct {
	Payment *Payment
	Attempt Attempt
	// Err is set when the provider could not be asked; the attempt is unchanged and will
	// be asked again.
	Err error
}

// Verify asks the attempt's provider for the truth and moves the attempt and payment to match
// it. It is safe to call any number of times, concurrently, from returns, refreshes,
// callbacks and the background job: each transition is one conditional update, so the
// payment becomes paid exactly once. Concurrent verifications of one attempt share one
// provider call (see verifyShared).
func (s *Service) Verify(ctx context.Context, paymentID, attemptID string) (Verification, error) {
	return s.verifyByID(ctx, paymentID, attemptID, verifyOpts{capture: true})
}

// VerifyRecent is Verify for pages a shopper (or anyone holding the URL) may reload at will:
// a reading taken in the last few seconds is reused instead of asking the provider again.
func (s *Service) VerifyRecent(ctx context.Context, paymentID, attemptID string) (Verification, error) {
	return s.verifyByID(ctx, paymentID, attemptID, verifyOpts{maxAge: readingMaxAge, capture: true})
}

// VerifyNotified is Verify for a provider's notification: it asks even about a paid attempt,
// because the notification may announce a reversal.
func (s *Service) VerifyNotified(ctx context.Context, paymentID, attemptID string) (Verification, error) {
	return s.verifyByID(ctx, paymentID, attemptID, verifyOpts{capture: true, evenPaid: true})
}

func (s *Service) verifyByID(ctx context.Context, paymentID, attemptID string, o verifyOpts) (Verification, error) {
	a, err := s.Store.FindAttempt(ctx, attemptID)
	if errors.Is(err, ErrNotFound) || (err == nil && a.PaymentID != paymentID) {
		return Verification{}, Errorf(ENOTFOUND, "No such payment attempt.")
	} else if err != nil {
		return Verification{}, err
	}
	verr := s.verifyShared(ctx, a, o)
	p, err := s.Payment(ctx, paymentID)
	if err != nil {
		return Verification{}, err
	}
	cur, _ := p.Attempt(attemptID)
	return Verification{Payment: p, Attempt: cur, Err: verr}, nil
}

// verifyOpts says how a verification may ask the provider.
type verifyOpts struct {
	// maxAge > 0 reuses a reading of the attempt at most this old.
	maxAge time.Duration
	// capture lets an authorized order be captured (only while its payment is open).
	capture bool
	// evenPaid asks about an attempt already paid, to learn of a reversal.
	evenPaid bool
}

// verify asks the provider once and converges; it returns the provider error that kept it from
// converging, if any.
func (s *Service) verify(ctx context.Context, a *Attempt, o verifyOpts) error {
	switch {
	case a.Status == AttemptCreating:
		return nil // the create is under way; the stale-creating sweep takes over if it dies
	case a.Status == AttemptPaid && !o.evenPaid:
		return nil // nothing left to learn on a page
	case a.ProviderRef == "" && !a.Status.Live() && !o.evenPaid:
		// The provider refused it, or long after a lost answer had no order for it: nothing
		// to ask about, unless the provider itself notifies Kassa of an order carrying the
		// attempt's reference (then it is looked up, and a late payment still counts).
		return nil
	}
	pr, ok := s.Providers.Get(a.Provider)
	if !ok {
		return fmt.Errorf("provider %s is not configured", a.Provider)
	}
	l := providers.Lookup{ProviderRef: a.ProviderRef, Reference: a.ID, Currency: a.Currency, CreatedAt: a.CreatedAt}
	res, err := pr.FetchOrder(ctx, l)
	if err == nil && res.Status == providers.StatusAuthorized && o.capture && matches(a, res) && s.mayCapture(ctx, a) {
		if c, ok := pr.(providers.Capturer); ok {
			if l.ProviderRef == "" {
				l.ProviderRef = res.ProviderRef
			}
			res, err = c.Capture(ctx, l)
		}
	}
	if err != nil {
		now := s.now()
		if a.ProviderRef == "" && errors.Is(err, providers.ErrNotFound) && now.Sub(a.CreatedAt) > unknownOutcomeGrace {
			// The create's answer was lost, and long after it the provider says no order
			// carries Kassa's reference: the create never took effect.
			return s.moveAttempt(ctx, a, AttemptFailed, "the provider has no order for this attempt", now)
		}
		s.log().WarnContext(ctx, "provider status unavailable", "attempt", a.ID, "provider", a.Provider, "err", err)
		s.reschedule(ctx, a, err.Error())
		return err
	}
	return s.converge(ctx, a, res)
}

// mayCapture reports whether the attempt's payment is still open: a cancelled or expired
// payment must never capture money (an authorization is voided or left to lapse instead).
func (s *Service) mayCapture(ctx context.Context, a *Attempt) bool {
	p, err := s.Store.FindPayment(ctx, a.PaymentID)
	return err == nil && p.Status == PaymentOpen && !s.PastExpiry(p)
}

// matches reports whether a reading carries exactly the money the attempt asked for. A zero
// amount is a missing one (OneKhusa reports none without amountSent), never a match.
func matches(a *Attempt, res providers.Result) bool {
	return res.Amount == a.Amount && res.Currency == a.Currency && res.Amount > 0
}

// converge moves the attempt (and payment) to what the provider said. Only a paid reading
// with exactly the attempt's money pays; a refund or reversal never does.
func (s *Service) converge(ctx context.Context, a *Attempt, res providers.Result) error {
	now := s.now()
	if a.ProviderRef == "" && res.ProviderRef != "" {
		if err := s.learnRef(ctx, a, res.ProviderRef, now); err != nil {
			return err
		}
	}
	mismatch := func() error {
		msg := fmt.Sprintf("provider reports %s %s, attempt asked for %s", Money{res.Amount, res.Currency}, res.Status, a.Money)
		s.log().ErrorContext(ctx, "amount mismatch: not marking paid", "attempt", a.ID, "detail", msg)
		return s.review(ctx, a, msg, EventAttemptAmountMismatch, now)
	}
	switch res.Status {
	case providers.StatusPaid:
		if !matches(a, res) {
			return mismatch()
		}
		return s.markPaid(ctx, a, res, now)
	case providers.StatusRefunded, providers.StatusPartiallyRefunded:
		if a.Status == AttemptPaid {
			if res.Currency != "" && res.Currency != a.Currency {
				s.log().ErrorContext(ctx, "reversal in another currency: ignored", "attempt", a.ID, "currency", res.Currency)
				return nil
			}
			return s.providerReversal(ctx, a, res)
		}
		msg := fmt.Sprintf("provider reports %s, but Kassa never recorded this attempt paid", res.Status)
		s.log().ErrorContext(ctx, "reversal of an unpaid attempt: not marking paid", "attempt", a.ID)
		return s.review(ctx, a, msg, EventAttemptReversedUnpaid, now)
	case providers.StatusAuthorized:
		if !matches(a, res) {
			return mismatch()
		}
		if a.Status != AttemptAuthorized {
			if err := s.moveAttempt(ctx, a, AttemptAuthorized, "", now); err != nil {
				return err
			}
		}
		s.reschedule(ctx, a, "")
	case providers.StatusDeclined:
		return s.moveAttempt(ctx, a, AttemptDeclined, res.Reason, now)
	case providers.StatusCancelled:
		return s.moveAttempt(ctx, a, AttemptCancelled, res.Reason, now)
	case providers.StatusExpired:
		return s.moveAttempt(ctx, a, AttemptExpired, res.Reason, now)
	default:
		if a.Status == AttemptReview && res.Amount == a.Amount && res.Currency == a.Currency {
			// The odd reading was not repeated: an ordinary pending order again.
			if err := s.moveAttempt(ctx, a, AttemptPending, "", now); err != nil {
				return err
			}
		}
		s.reschedule(ctx, a, "")
	}
	return nil
}

// learnRef records the provider's id of an order found by Kassa's reference after the
// create's answer was lost.
func (s *Service) learnRef(ctx context.Context, a *Attempt, ref string, now time.Time) error {
	err := s.Store.Apply(ctx, Change{
		Attempt: &AttemptChange{ID: a.ID, From: []AttemptStatus{a.Status}, To: a.Status, ProviderRef: ref, Checks: -1, At: now},
		Events: []Event{{PaymentID: a.PaymentID, AttemptID: a.ID, Type: EventAttemptPending, CreatedAt: now,
			Data: map[string]any{"providerRef": ref, "foundBy": "reference"}}},
	})
	if errors.Is(err, ErrConflict) {
		return nil
	}
	if err == nil {
		a.ProviderRef = ref
	}
	return err
}

// review puts the attempt in AttemptReview with an event for the merchant, once: a repeated
// odd reading only reschedules the next check.
func (s *Service) review(ctx context.Context, a *Attempt, msg, event string, now time.Time) error {
	if a.Status == AttemptReview {
		s.reschedule(ctx, a, msg)
		return nil
	}
	if !a.Status.CanBecome(AttemptReview) {
		return nil
	}
	err := s.Store.Apply(ctx, Change{
		Attempt: &AttemptChange{ID: a.ID, From: []AttemptStatus{a.Status}, To: AttemptReview, Error: msg, Checks: 0,
			NextCheckAt: now.Add(firstCheckDelay), At: now},
		Events: []Event{
			{PaymentID: a.PaymentID, AttemptID: a.ID, Type: EventAttemptStatus, CreatedAt: now,
				Data: map[string]any{"from": string(a.Status), "status": string(AttemptReview), "reason": msg}},
			{PaymentID: a.PaymentID, AttemptID: a.ID, Type: event, CreatedAt: now,
				Data: map[string]any{"provider": string(a.Provider), "detail": msg, "amount": a.Amount, "currency": a.Currency}},
		},
	})
	if errors.Is(err, ErrConflict) {
		return nil
	}
	if err == nil {
		a.Status, a.Checks = AttemptReview, 0
	}
	return err
}

func (s *Service) moveAttempt(ctx context.Context, a *Attempt, to AttemptStatus, reason string, now time.Time) error {
	if a.Status == to || !a.Status.CanBecome(to) {
		return nil
	}
	err := s.Store.Apply(ctx, Change{
		Attempt: &AttemptChange{ID: a.ID, From: []AttemptStatus{a.Status}, To: to, Error: reason, Checks: -1, At: now},
		Events: []Event{{PaymentID: a.PaymentID, AttemptID: a.ID, Type: EventAttemptStatus, CreatedAt: now,
			Data: map[string]any{"from": string(a.Status), "status": string(to), "reason": reason}}},
	})
	if errors.Is(err, ErrConflict) {
		return nil // someone else moved it first; their reading is as fresh as ours
	}
	if err == nil {
		a.Status = to
	}
	return err
}

// markPaid moves the attempt and the payment to paid in one transaction.
func (s *Service) markPaid(ctx context.Context, a *Attempt, res providers.Result, now time.Time) error {
	attemptFrom := attemptStatusesInto(AttemptPaid)
	events := []Event{
		{PaymentID: a.PaymentID, AttemptID: a.ID, Type: EventAttemptStatus, CreatedAt: now,
			Data: map[string]any{"from": string(a.Status), "status": string(AttemptPaid), "providerPaymentId": res.PaymentID}},
		{PaymentID: a.PaymentID, AttemptID: a.ID, Type: EventPaymentPaid, CreatedAt: now,
			Data: map[string]any{"provider": string(a.Provider), "amount": a.Amount, "currency": a.Currency}},
	}
	err := s.Store.Apply(ctx, Change{
		Payment: &PaymentChange{ID: a.PaymentID, From: paymentStatusesInto(PaymentPaid), To: PaymentPaid, PaidAt: now, At: now},
		Attempt: &AttemptChange{ID: a.ID, From: attemptFrom, To: AttemptPaid, Checks: -1, At: now},
		Events:  events,
	})
	if !errors.Is(err, ErrConflict) {
		return err
	}
	// Either the attempt is already paid (a concurrent verification won: nothing to do), or
	// the payment was already paid through another attempt: the shopper paid twice. Record
	// the second payment truthfully so the merchant can refund it.
	cur, ferr := s.Store.FindAttempt(ctx, a.ID)
	if ferr != nil {
		return ferr
	}
	if cur.Status == AttemptPaid {
		return nil
	}
	err = s.Store.Apply(ctx, Change{
		Attempt: &AttemptChange{ID: a.ID, From: attemptFrom, To: AttemptPaid, Checks: -1, At: now},
		Events: []Event{events[0], {PaymentID: a.PaymentID, AttemptID: a.ID, Type: EventAttemptPaidTwice, CreatedAt: now,
			Data: map[string]any{"provider": string(a.Provider), "amount": a.Amount, "currency": a.Currency}}},
	})
	if errors.Is(err, ErrConflict) {
		return nil
	}
	if err == nil {
		s.log().ErrorContext(ctx, "payment paid twice: refund needed", "payment", a.PaymentID, "attempt", a.ID)
	}
	return err
}

// reschedule records one more check of a live attempt and when to ask next.
func (s *Service) reschedule(ctx context.Context, a *Attempt, errMsg string) {
	if !a.Status.Live() {
		return
	}
	now := s.now()
	err := s.Store.Apply(ctx, Change{Attempt: &AttemptChange{ID: a.ID, From: []AttemptStatus{a.Status}, To: a.Status,
		Error: errMsg, Checks: a.Checks + 1, NextCheckAt: now.Add(checkDelay(a.Checks + 1)), At: now}})
	if err != nil && !errors.Is(err, ErrConflict) {
		s.log().ErrorContext(ctx, "attempt check not recorded", "attempt", a.ID, "err", err)
	}
}

// Reconcile is the background job's one pass: it verifies live attempts that are due, takes
// over attempts whose create was interrupted (looking them up rather than failing them), and
// expires open payments past their expiry once
// their live attempts have been asked. It returns how many items it looked at.
func (s *Service) Reconcile(ctx context.Context) (int, error) {
	now := s.now()
	n := 0
	stale, err := s.Store.StaleCreating(ctx, now.Add(-staleCreating), 100)
	if err != nil {
		return n, err
	}
	for _, a := range stale {
		n++
		// The create may have reached the provider before the process stopped: look it up
		// by Kassa's reference instead of failing it on a guess.
		if err := s.outcomeUnknown(ctx, &a, "interrupted before the provider answered", s.IsPush(ctx, a), now); err != nil {
			return n, err
		}
	}
	due, err := s.Store.DueAttempts(ctx, now, 100)
	if err != nil {
		return n, err
	}
	for _, a := range due {
		n++
		p, err := s.Store.FindPayment(ctx, a.PaymentID)
		if err != nil {
			return n, err
		}
		if now.After(p.ExpiresAt.Add(attemptGiveUp)) {
			s.log().WarnContext(ctx, "attempt still pending long after expiry: polling stops", "attempt", a.ID)
			if err := s.moveAttempt(ctx, &a, AttemptExpired, "no final status from the provider", now); err != nil {
				return n, err
			}
			continue
		}
		_ = s.verifyShared(ctx, &a, verifyOpts{capture: true}) // failures are rescheduled inside
	}
	expired, err := s.Store.ExpiredPayments(ctx, now, 100)
	if err != nil {
		return n, err
	}
	for _, id := range expired {
		n++
		if err := s.expire(ctx, id); err != nil {
			return n, err
		}
	}
	return n, nil
}

// expire closes an open payment past its expiry; see closeOpen.
func (s *Service) expire(ctx context.Context, id string) error {
	err := s.closeOpen(ctx, id, PaymentExpired, EventPaymentExpired)
	if errors.Is(err, ErrConflict) {
		return nil // paid or cancelled meanwhile
	}
	return err
}

// closeOpen moves an open payment to a closed status (expired, cancelled) after asking its live
// attempts one last time, so that one the shopper paid wins; it answers ErrConflict when the
// payment is no longer open. Closing never captures: an authorized order is voided where the
// provider can (providers.Voider), else left to lapse, and a provider order that can be
// cancelled is cancelled. Attempts the provider could not answer about keep being polled, and
// a late payment still moves the closed payment to paid.
func (s *Service) closeOpen(ctx context.Context, id string, to PaymentStatus, event string) error {
	p, err := s.Store.FindPayment(ctx, id)
	if err != nil {
		return err
	}
	for _, a := range p.Attempts {
		if !a.Status.Live() {
			continue
		}
		if err := s.verifyShared(ctx, &a, verifyOpts{}); err != nil {
			continue
		}
		s.void(ctx, a.ID)
	}
	now := s.now()
	return s.Store.Apply(ctx, Change{
		Payment: &PaymentChange{ID: id, From: []PaymentStatus{PaymentOpen}, To: to, At: now},
		Events:  []Event{{PaymentID: id, Type: event, CreatedAt: now}},
	})
}

// void releases a live attempt's order at its provider when the provider can, and converges
// the attempt to the provider's answer (a void that finds the order paid pays it).
func (s *Service) void(ctx context.Context, attemptID string) {
	a, err := s.Store.FindAttempt(ctx, attemptID)
	if err != nil || !a.Status.Live() || a.ProviderRef == "" {
		return
	}
	pr, ok := s.Providers.Get(a.Provider)
	v, canVoid := pr.(providers.Voider)
	if !ok || !canVoid {
		return // left to lapse at the provider
	}
	res, err := v.Void(ctx, providers.Lookup{ProviderRef: a.ProviderRef, Reference: a.ID, Currency: a.Currency, CreatedAt: a.CreatedAt})
	if err != nil {
		s.log().WarnContext(ctx, "provider order not voided", "attempt", a.ID, "provider", a.Provider, "err", err)
		return
	}
	now := s.now()
	if res.Status == providers.StatusCancelled || res.Status == providers.StatusExpired {
		if err := s.Store.Apply(ctx, Change{
			Attempt: &AttemptChange{ID: a.ID, From: []AttemptStatus{a.Status}, To: AttemptCancelled, Error: "voided when the payment was closed", Checks: -1, At: now},
			Events: []Event{{PaymentID: a.PaymentID, AttemptID: a.ID, Type: EventAttemptVoided, CreatedAt: now,
				Data: map[string]any{"from": string(a.Status), "provider": string(a.Provider)}}},
		}); err != nil && !errors.Is(err, ErrConflict) {
			s.log().ErrorContext(ctx, "void not recorded", "attempt", a.ID, "err", err)
		}
		return
	}
	if err := s.converge(ctx, a, res); err != nil {
		s.log().ErrorContext(ctx, "void answer not recorded", "attempt", a.ID, "err", err)
	}
}

// Events returns the payment's event log, oldest first.
func (s *Service) Events(ctx context.Context, paymentID string) ([]Event, error) {
	return s.Store.Events(ctx, paymentID)
}

// Run calls Reconcile every interval until ctx ends.
func (s *Service) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.Reconcile(ctx); err != nil && ctx.Err() == nil {
				s.log().ErrorContext(ctx, "reconcile", "err", err)
			}
		}
	}
}

// AttemptForCallback finds the attempt a provider notification names, by the provider's
// order id or by Kassa's attempt id, checking the attempt belongs to that provider.
//
// A notification that names both is found by Kassa's reference when the provider id is not on
// record: the create's answer may have been lost, so the attempt never learnt it.
func (s *Service) AttemptForCallback(ctx context.Context, id providers.ID, h providers.CallbackHint) (*Attempt, error) {
	if h.ProviderRef != "" {
		a, err := s.Store.FindAttemptByProviderRef(ctx, id, h.ProviderRef)
		if !errors.Is(err, ErrNotFound) || h.Reference == "" {
			return a, err
		}
	}
	if h.Reference == "" {
		return nil, ErrNotFound
	}
	a, err := s.Store.FindAttempt(ctx, h.Reference)
	if err == nil && a.Provider != id {
		return nil, ErrNotFound
	}
	return a, err
}

// CancelPayment cancels an open payment for its merchant. Its live attempts are asked first:
// one that turns out paid wins, and the cancel answers ECONFLICT.
func (s *Service) CancelPayment(ctx context.Context, id string) (*Payment, error) {
	err := s.closeOpen(ctx, id, PaymentCancelled, EventPaymentCancelled)
	if errors.Is(err, ErrNotFound) {
		return nil, Errorf(ENOTFOUND, "No payment has id %q.", id)
	}
	if errors.Is(err, ErrConflict) {
		p, perr := s.Payment(ctx, id)
		if perr != nil {
			return nil, perr
		}
		return p, Errorf(ECONFLICT, "Only an open payment can be cancelled; this one is %s.", p.Status)
	}
	if err != nil {
		return nil, err
	}
	return s.Payment(ctx, id)
}
