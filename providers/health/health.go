// Package health keeps a circuit breaker per payment provider, so that a provider whose calls
// keep failing is taken off checkout pages for a cool-down instead of sending shoppers into an
// outage, and is probed before it comes back.
//
// A breaker is closed (the provider is offered), open (taken off for a cool-down) or half-open
// (one instance is probing it). It opens after Threshold consecutive failures of the kinds
// that say the provider itself is in trouble — timeouts, 5xx answers, connection errors
// (instrumented.OutcomeUnavailable) — never on declines, invalid requests or other 4xx
// answers, which prove the provider is up. When the cool-down is over, one instance claims the
// probe (a lease in the database, so instances do not all probe at once, and a probe lost
// with its instance is claimed again), calls the provider harmlessly, and closes the breaker
// on an answer or opens it for another cool-down on a failure.
//
// The state lives in the database (table provider_health) so that every instance agrees;
// each instance reads it at most once per CacheTTL to decide what a checkout page offers.
// Only open and half-open breakers keep a provider off the page: verification of orders
// already at that provider carries on regardless, since converging them is what matters.
package health

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/kassa-pay/kassa/providers"
	"github.com/kassa-pay/kassa/providers/instrumented"
)

// State is a breaker's state.
type State string

// The breaker states.
const (
	Closed   State = "closed"
	Open     State = "open"
	HalfOpen State = "half_open"
)

// Status is one provider's breaker as stored.
type Status struct {
	Provider providers.ID `json:"provider"`
	State    State        `json:"state"`
	// Failures counts consecutive failed calls (it keeps counting while open).
	Failures int `json:"failures"`
	// LastError is the last failure's error text, for operators.
	LastError string `json:"lastError,omitempty"`
	// OpenedAt is when the breaker last opened; OpenUntil when its cool-down ends.
	OpenedAt  time.Time `json:"openedAt,omitzero"`
	OpenUntil time.Time `json:"openUntil,omitzero"`
	// ProbeUntil is when the probing instance's lease ends (half-open only).
	ProbeUntil time.Time `json:"probeUntil,omitzero"`
	UpdatedAt  time.Time `json:"updatedAt"`
}

// Store keeps the breakers. The db package implements it; every transition is one
// conditional update, so instances racing on one breaker make it move once.
type Store interface {
	// EnsureProviderHealth creates a closed breaker for each provider that has none.
	EnsureProviderHealth(ctx context.Context, ids []providers.ID, now time.Time) error
	// ProviderHealth returns every stored breaker.
	ProviderHealth(ctx context.Context) ([]Status, error)
	// RecordProviderFailure counts a failure, and opens the breaker until openUntil when it
	// was closed and has now reached threshold failures, or was half-open. It reports
	// whether this call opened it.
	RecordProviderFailure(ctx context.Context, id providers.ID, now time.Time, threshold int, openUntil time.Time, lastError string) (opened bool, err error)
	// RecordProviderSuccess resets the failure count and closes a half-open breaker. It
	// reports whether this call closed it.
	RecordProviderSuccess(ctx context.Context, id providers.ID, now time.Time) (closed bool, err error)
	// ClaimProviderProbe moves an open breaker whose cool-down ended (or a half-open one
	// whose probe lease expired) to half-open with a probe lease until until, and reports
	// whether this caller got it.
	ClaimProviderProbe(ctx context.Context, id providers.ID, now, until time.Time) (bool, error)
}

// Config tunes the breakers; zero fields take the defaults.
type Config struct {
	// Threshold is the number of consecutive failures that opens a breaker (default 5).
	Threshold int
	// Cooldown is how long an open breaker keeps its provider off (default 30s).
	Cooldown time.Duration
	// ProbeTimeout bounds a probe and is its lease (default 10s).
	ProbeTimeout time.Duration
	// CacheTTL is how old this instance's view of the breakers may be when a checkout page
	// is drawn (default 1s).
	CacheTTL time.Duration
	// Now is the clock (default time.Now); tests inject one.
	Now func() time.Time
	// OnTransition, if set, is told of every transition this instance makes.
	OnTransition func(id providers.ID, to State)
	Log          *slog.Logger
}

// Breakers are the circuit breakers of the configured providers.
type Breakers struct {
	store Store
	ids   []providers.ID
	cfg   Config

	mu       sync.Mutex
	cache    map[providers.ID]Status
	cachedAt time.Time
}

// New returns the breakers of ids, kept in store.
func New(store Store, ids []providers.ID, cfg Config) *Breakers {
	if cfg.Threshold <= 0 {
		cfg.Threshold = 5
	}
	if cfg.Cooldown <= 0 {
		cfg.Cooldown = 30 * time.Second
	}
	if cfg.ProbeTimeout <= 0 {
		cfg.ProbeTimeout = 10 * time.Second
	}
	if cfg.CacheTTL <= 0 {
		cfg.CacheTTL = time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Breakers{store: store, ids: ids, cfg: cfg}
}

// Init creates the breakers that do not exist yet (closed).
func (b *Breakers) Init(ctx context.Context) error {
	return b.store.EnsureProviderHealth(ctx, b.ids, b.cfg.Now())
}

// States returns every configured provider's breaker, read from the database now. A
// provider with no stored breaker yet is reported closed.
func (b *Breakers) States(ctx context.Context) ([]Status, error) {
	rows, err := b.store.ProviderHealth(ctx)
	if err != nil {
		return nil, err
	}
	byID := make(map[providers.ID]Status, len(rows))
	for _, r := range rows {
		byID[r.Provider] = r
	}
	b.mu.Lock()
	b.cache, b.cachedAt = byID, b.cfg.Now()
	b.mu.Unlock()
	out := make([]Status, 0, len(b.ids))
	for _, id := range b.ids {
		st, ok := byID[id]
		if !ok {
			st = Status{Provider: id, State: Closed}
		}
		out = append(out, st)
	}
	return out, nil
}

// view returns this instance's view of the breakers, read again when older than CacheTTL.
func (b *Breakers) view(ctx context.Context) map[providers.ID]Status {
	b.mu.Lock()
	fresh := b.cache != nil && b.cfg.Now().Sub(b.cachedAt) < b.cfg.CacheTTL
	cache := b.cache
	b.mu.Unlock()
	if fresh {
		return cache
	}
	if _, err := b.States(ctx); err != nil {
		// The breakers protect shoppers from providers; a database that cannot be read must
		// not take every provider off the page, so the last view (or none) stands.
		b.cfg.Log.WarnContext(ctx, "provider health unreadable", "err", err)
		return cache
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cache
}

// forget drops the cached view, so the next reading sees this instance's own change.
func (b *Breakers) forget() {
	b.mu.Lock()
	b.cache = nil
	b.mu.Unlock()
}

// Available reports whether provider id may be offered to shoppers: its breaker is closed
// (or unknown).
func (b *Breakers) Available(ctx context.Context, id providers.ID) bool {
	st, ok := b.view(ctx)[id]
	return !ok || st.State == Closed
}

// Observe records a provider call's outcome; it is an instrumented.Observer. Failures of any
// call are always written; a success is written only when there is something to reset, so the
// healthy path costs no database write.
func (b *Breakers) Observe(ctx context.Context, c instrumented.Call) {
	switch c.Outcome {
	case instrumented.OutcomeUnavailable:
		b.failure(ctx, c.Provider, c.Err)
	case instrumented.OutcomeOK, instrumented.OutcomeDeclined, instrumented.OutcomeInvalid, instrumented.OutcomeAuth,
		instrumented.OutcomeNotFound, instrumented.OutcomeConflict:
		// The provider answered: it is up, whatever it answered. Currency and method lists
		// are served from the adapters' caches most of the time, so their successes prove
		// nothing and must not reset the count between failing orders.
		if c.Operation == instrumented.OpCurrencies || c.Operation == instrumented.OpMethods {
			return
		}
		if st, ok := b.view(ctx)[c.Provider]; ok && (st.Failures > 0 || st.State == HalfOpen) {
			b.success(ctx, c.Provider)
		}
	}
	// Rate limits, cancellations by Kassa's side and unclassified errors say nothing either
	// way about the provider's health.
}

// writeContext detaches a breaker write from the call it follows: a call that failed by
// timing out has a spent context, and its failure must still be recorded.
func writeContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
}

func (b *Breakers) failure(ctx context.Context, id providers.ID, cause error) {
	ctx, cancel := writeContext(ctx)
	defer cancel()
	now := b.cfg.Now()
	msg := ""
	if cause != nil {
		msg = cause.Error()
		if len(msg) > 300 {
			msg = msg[:300]
		}
	}
	opened, err := b.store.RecordProviderFailure(ctx, id, now, b.cfg.Threshold, now.Add(b.cfg.Cooldown), msg)
	b.forget()
	if err != nil {
		b.cfg.Log.ErrorContext(ctx, "provider failure not recorded", "provider", id, "err", err)
		return
	}
	if opened {
		b.cfg.Log.WarnContext(ctx, "provider circuit breaker opened: taken off checkout pages",
			"provider", id, "cooldown", b.cfg.Cooldown, "err", msg)
		b.transition(id, Open)
	}
}

func (b *Breakers) success(ctx context.Context, id providers.ID) {
	ctx, cancel := writeContext(ctx)
	defer cancel()
	closed, err := b.store.RecordProviderSuccess(ctx, id, b.cfg.Now())
	b.forget()
	if err != nil {
		b.cfg.Log.ErrorContext(ctx, "provider success not recorded", "provider", id, "err", err)
		return
	}
	if closed {
		b.cfg.Log.InfoContext(ctx, "provider circuit breaker closed: offered again", "provider", id)
		b.transition(id, Closed)
	}
}

func (b *Breakers) transition(id providers.ID, to State) {
	if b.cfg.OnTransition != nil {
		b.cfg.OnTransition(id, to)
	}
}

// ProbeFunc calls provider id harmlessly (looking up an order that does not exist, say): an
// answer of any kind means the provider is up.
type ProbeFunc func(ctx context.Context, id providers.ID) error

// ProbeDue probes every provider whose cool-down is over and whose probe this instance
// claims, and records each outcome. It returns the providers it probed.
func (b *Breakers) ProbeDue(ctx context.Context, probe ProbeFunc) ([]providers.ID, error) {
	rows, err := b.store.ProviderHealth(ctx)
	if err != nil {
		return nil, err
	}
	var probed []providers.ID
	for _, r := range rows {
		now := b.cfg.Now()
		due := (r.State == Open && !now.Before(r.OpenUntil)) || (r.State == HalfOpen && now.After(r.ProbeUntil))
		if !due || !b.configured(r.Provider) {
			continue
		}
		claimed, err := b.store.ClaimProviderProbe(ctx, r.Provider, now, now.Add(b.cfg.ProbeTimeout))
		if err != nil {
			return probed, err
		}
		if !claimed {
			continue // another instance probes it
		}
		b.forget()
		b.transition(r.Provider, HalfOpen)
		probed = append(probed, r.Provider)
		pctx, cancel := context.WithTimeout(ctx, b.cfg.ProbeTimeout)
		perr := probe(pctx, r.Provider)
		outcome := instrumented.Outcome(pctx, perr)
		cancel()
		if ctx.Err() != nil {
			// Stopping: the lease lapses and another instance probes again.
			return probed, ctx.Err()
		}
		b.cfg.Log.InfoContext(ctx, "provider probed", "provider", r.Provider, "outcome", outcome)
		switch outcome {
		case instrumented.OutcomeUnavailable, instrumented.OutcomeRateLimited, instrumented.OutcomeError, instrumented.OutcomeCanceled:
			// Not a clear answer: another cool-down before the next probe.
			b.failure(ctx, r.Provider, perr)
		default:
			b.success(ctx, r.Provider)
		}
	}
	return probed, nil
}

func (b *Breakers) configured(id providers.ID) bool {
	for _, c := range b.ids {
		if c == id {
			return true
		}
	}
	return false
}

// Run probes due providers every interval until ctx ends.
func (b *Breakers) Run(ctx context.Context, every time.Duration, probe ProbeFunc) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := b.ProbeDue(ctx, probe); err != nil && ctx.Err() == nil {
				b.cfg.Log.ErrorContext(ctx, "provider probes", "err", err)
			}
		}
	}
}

// ProbeLookup is the order a probe asks for: one no provider has, so a healthy provider
// answers "not found" (or "invalid"), and nothing is created or changed anywhere. The
// reference is 12 characters, the length OneKhusa's lookup accepts before it calls out.
var ProbeLookup = providers.Lookup{ProviderRef: "KASSAPROBE00", Reference: "kassa_health_probe"}
