package checkout

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/kassa-pay/kassa/providers"
)

// readings remembers when each attempt was last read from its provider, so pages that anyone
// may reload reuse a reading a few seconds old instead of calling the provider again. It is
// only a brake on provider calls: the truth is in the store, and every instance of Kassa keeps
// its own (a second instance asks once more, nothing worse).
type readings struct {
	mu sync.Mutex
	m  map[string]reading
	// pruned is when old readings were last dropped: at most once a second, so a busy
	// instance does not scan the map on every verification.
	pruned time.Time
}

type reading struct {
	at  time.Time
	err error
}

func (r *readings) recent(id string, now time.Time, maxAge time.Duration) (reading, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rd, ok := r.m[id]
	return rd, ok && now.Sub(rd.at) < maxAge && !rd.at.After(now)
}

func (r *readings) put(id string, at time.Time, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string]reading{}
	}
	if len(r.m) > 1024 && at.Sub(r.pruned) > time.Second { // forget readings too old to reuse
		for k, v := range r.m {
			if at.Sub(v.at) > readingMaxAge {
				delete(r.m, k)
			}
		}
		r.pruned = at
	}
	r.m[id] = reading{at: at, err: err}
}

// verifyShared is verify with two brakes on provider calls. Concurrent verifications of one
// attempt share one call (singleflight keyed by attempt id, options included, so a capture
// never rides on a call that was not allowed to capture), and with o.maxAge set a reading that
// recent is reused. The shared call runs without the first caller's cancellation: one shopper
// hanging up must not fail everyone waiting on it (the provider client's timeout bounds it).
func (s *Service) verifyShared(ctx context.Context, a *Attempt, o verifyOpts) error {
	if o.maxAge > 0 {
		if rd, ok := s.readings.recent(a.ID, s.now(), o.maxAge); ok {
			return rd.err
		}
	}
	key := a.ID
	if !o.capture {
		key += "/nocapture"
	}
	if o.evenPaid {
		key += "/paid"
	}
	shared := context.WithoutCancel(ctx)
	ch := s.flight.DoChan(key, func() (any, error) {
		if o.maxAge > 0 {
			// A call that finished between our look and this one left a reading to reuse.
			if rd, ok := s.readings.recent(a.ID, s.now(), o.maxAge); ok {
				return nil, rd.err
			}
		}
		err := s.verify(shared, a, o)
		s.readings.put(a.ID, s.now(), err)
		return nil, err
	})
	select {
	case r := <-ch:
		return r.Err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// outcomeUnknown records that an attempt's create may have reached the provider although its
// answer was lost: the attempt becomes pending without a provider reference, is looked up by
// Kassa's reference from now on, and is flagged with an event. keepSlot is false for orders
// the shopper cannot reach without the lost pay URL (a redirect), which then no longer block a
// new attempt with the same provider and method; a push to a phone keeps its slot, since the
// prompt may be on the phone.
func (s *Service) outcomeUnknown(ctx context.Context, a *Attempt, reason string, keepSlot bool, now time.Time) error {
	err := s.Store.Apply(ctx, Change{
		Attempt: &AttemptChange{ID: a.ID, From: []AttemptStatus{AttemptCreating}, To: AttemptPending, Error: reason,
			Checks: 0, NextCheckAt: now, At: now, ReleaseSlot: !keepSlot},
		Events: []Event{{PaymentID: a.PaymentID, AttemptID: a.ID, Type: EventAttemptOutcomeUnknown, CreatedAt: now,
			Data: map[string]any{"provider": string(a.Provider), "error": reason}}},
	})
	if errors.Is(err, ErrConflict) {
		return nil // the create finished after all
	}
	if err == nil {
		a.Status, a.Error, a.NextCheckAt, a.UpdatedAt = AttemptPending, reason, now, now
	}
	return err
}

// Unconfirmed verifies the payment's live attempts a shopper may have paid (reusing readings
// a few seconds old) and returns the payment as it now stands and the attempt, if any, that
// must be confirmed before the shopper may choose again: one whose provider could not be
// asked, one in review, one authorized, or one whose order has not been found yet after its
// create's answer was lost. An attempt the provider reads as simply not paid does not hold
// the shopper back (it keeps being watched; paying it later is recorded, never lost). A
// redirect attempt whose pay URL was never learnt is skipped: the shopper cannot have paid it.
func (s *Service) Unconfirmed(ctx context.Context, paymentID string) (*Payment, *Attempt, error) {
	p, err := s.Payment(ctx, paymentID)
	if err != nil {
		return nil, nil, err
	}
	return s.unconfirmed(ctx, p)
}

// unconfirmed is Unconfirmed for a payment already read.
func (s *Service) unconfirmed(ctx context.Context, p *Payment) (*Payment, *Attempt, error) {
	paymentID := p.ID
	if p.Status != PaymentOpen {
		return p, nil, nil
	}
	// Each live attempt is verified first; the payment is then read once, and its attempts as
	// they now stand say which one must be confirmed (no read of each attempt on its own).
	verrs := map[string]error{}
	for _, a := range p.Attempts {
		if !a.Status.Live() || (a.PayURL == "" && !s.IsPush(ctx, a)) {
			continue
		}
		verrs[a.ID] = s.verifyShared(ctx, &a, verifyOpts{maxAge: readingMaxAge, capture: true})
	}
	if len(verrs) == 0 {
		return p, nil, nil
	}
	p, err := s.Payment(ctx, paymentID)
	if err != nil {
		return nil, nil, err
	}
	if p.Status != PaymentOpen {
		return p, nil, nil
	}
	var waiting *Attempt
	for i := range p.Attempts {
		cur := &p.Attempts[i]
		verr, checked := verrs[cur.ID]
		if checked && cur.Status.Live() && (verr != nil || cur.Status != AttemptPending || cur.ProviderRef == "") {
			waiting = cur
			break
		}
	}
	return p, waiting, nil
}

// IsPush reports whether the attempt's method pushes a prompt to the shopper's phone, where
// money can move without the shopper ever seeing a pay page.
func (s *Service) IsPush(ctx context.Context, a Attempt) bool {
	pr, ok := s.Providers.Get(a.Provider)
	ml, lists := pr.(providers.MethodLister)
	if !ok || !lists || a.Method == "" {
		return false
	}
	ms, err := ml.Methods(ctx, a.Currency)
	if err != nil {
		return true // cannot tell: assume the prompt may be on a phone
	}
	for _, m := range ms {
		if m.ID == a.Method {
			return m.NeedsPhone
		}
	}
	return false
}
