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
	// staleCreating is how long an attempt may sit in AttemptCreating before the job fails
	// it: the process died between recording the attempt and the provider's answer, so the
	// shopper was never sent anywhere.
	staleCreating = 2 * time.Minute
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
// payment becomes paid exactly once.
func (s *Service) Verify(ctx context.Context, paymentID, attemptID string) (Verification, error) {
	a, err := s.Store.FindAttempt(ctx, attemptID)
	if errors.Is(err, ErrNotFound) || (err == nil && a.PaymentID != paymentID) {
		return Verification{}, Errorf(ENOTFOUND, "No such payment attempt.")
	} else if err != nil {
		return Verification{}, err
	}
	verr := s.verify(ctx, a)
	p, err := s.Payment(ctx, paymentID)
	if err != nil {
		return Verification{}, err
	}
	cur, _ := p.Attempt(attemptID)
	return Verification{Payment: p, Attempt: cur, Err: verr}, nil
}

// verify returns the provider error that kept it from converging, if any.
func (s *Service) verify(ctx context.Context, a *Attempt) error {
	if a.ProviderRef == "" || a.Status == AttemptPaid {
		return nil // never reached the provider, or nothing left to learn
	}
	pr, ok := s.Providers.Get(a.Provider)
	if !ok {
		return fmt.Errorf("provider %s is not configured", a.Provider)
	}
	l := providers.Lookup{ProviderRef: a.ProviderRef, Reference: a.ID, Currency: a.Currency}
	res, err := pr.FetchOrder(ctx, l)
	if err == nil && res.Status == providers.StatusAuthorized {
		if c, ok := pr.(providers.Capturer); ok {
			res, err = c.Capture(ctx, l)
		}
	}
	if err != nil {
		s.log().WarnContext(ctx, "provider status unavailable", "attempt", a.ID, "provider", a.Provider, "err", err)
		s.reschedule(ctx, a, err.Error())
		return err
	}
	return s.converge(ctx, a, res)
}

// converge moves the attempt (and payment) to what the provider said.
func (s *Service) converge(ctx context.Context, a *Attempt, res providers.Result) error {
	now := s.now()
	if res.Status == providers.StatusPaid && (res.Amount != a.Amount || res.Currency != a.Currency) {
		msg := fmt.Sprintf("provider reports %s paid, attempt asked for %s", Money{res.Amount, res.Currency}, a.Money)
		s.log().ErrorContext(ctx, "amount mismatch: not marking paid", "attempt", a.ID, "detail", msg)
		return s.moveAttempt(ctx, a, AttemptFailed, msg, now)
	}
	switch res.Status {
	case providers.StatusPaid, providers.StatusRefunded, providers.StatusPartiallyRefunded:
		return s.markPaid(ctx, a, res, now)
	case providers.StatusAuthorized:
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
		s.reschedule(ctx, a, "")
	}
	return nil
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

// Reconcile is the background job's one pass: it verifies live attempts that are due, fails
// attempts stuck before reaching a provider, and expires open payments past their expiry once
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
		if err := s.moveAttempt(ctx, &a, AttemptFailed, "interrupted before the provider answered", now); err != nil {
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
		_ = s.verify(ctx, &a) // failures are rescheduled inside
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
// payment is no longer open. Attempts the provider could not answer about keep being polled,
// and a late payment still moves the closed payment to paid.
func (s *Service) closeOpen(ctx context.Context, id string, to PaymentStatus, event string) error {
	p, err := s.Store.FindPayment(ctx, id)
	if err != nil {
		return err
	}
	for _, a := range p.Attempts {
		if a.Status.Live() {
			_ = s.verify(ctx, &a)
		}
	}
	now := s.now()
	return s.Store.Apply(ctx, Change{
		Payment: &PaymentChange{ID: id, From: []PaymentStatus{PaymentOpen}, To: to, At: now},
		Events:  []Event{{PaymentID: id, Type: event, CreatedAt: now}},
	})
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
func (s *Service) AttemptForCallback(ctx context.Context, id providers.ID, h providers.CallbackHint) (*Attempt, error) {
	if h.ProviderRef != "" {
		return s.Store.FindAttemptByProviderRef(ctx, id, h.ProviderRef)
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
