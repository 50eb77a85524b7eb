package health_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/kassa-pay/kassa/db"
	"github.com/kassa-pay/kassa/providers"
	"github.com/kassa-pay/kassa/providers/health"
	"github.com/kassa-pay/kassa/providers/instrumented"
)

// clock is a settable time for the breakers under test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func openDB(t *testing.T) *db.DB {
	t.Helper()
	d, err := db.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "kassa.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// newBreakers returns breakers for onecheckout and enkash: 3 failures open, 30 s cool-down.
func newBreakers(t *testing.T, store health.Store, c *clock, transitions *[]string) *health.Breakers {
	t.Helper()
	b := health.New(store, []providers.ID{providers.Onecheckout, providers.EnKash}, health.Config{
		Threshold: 3, Cooldown: 30 * time.Second, ProbeTimeout: 10 * time.Second, CacheTTL: time.Second,
		Now: c.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		OnTransition: func(id providers.ID, to health.State) {
			if transitions != nil {
				*transitions = append(*transitions, string(id)+"→"+string(to))
			}
		},
	})
	if err := b.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	return b
}

func call(id providers.ID, err error) instrumented.Call {
	return instrumented.Call{Provider: id, Operation: instrumented.OpCreateOrder,
		Outcome: instrumented.Outcome(context.Background(), err), Err: err}
}

var (
	unavailable = &providers.Error{Provider: providers.Onecheckout, Op: "create order", Kind: providers.ErrUnavailable, HTTPStatus: 503}
	declined    = &providers.Error{Provider: providers.Onecheckout, Op: "create order", Kind: providers.ErrDeclined}
	invalid     = &providers.Error{Provider: providers.Onecheckout, Op: "create order", Kind: providers.ErrInvalid, HTTPStatus: 422}
	notFound    = &providers.Error{Provider: providers.Onecheckout, Op: "fetch order", Kind: providers.ErrNotFound, HTTPStatus: 404}
)

func state(t *testing.T, b *health.Breakers, id providers.ID) health.Status {
	t.Helper()
	states, err := b.States(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range states {
		if s.Provider == id {
			return s
		}
	}
	t.Fatalf("no breaker for %s", id)
	return health.Status{}
}

func TestBreakerTransitions(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
	var transitions []string
	b := newBreakers(t, openDB(t), c, &transitions)
	oc := providers.Onecheckout

	// Declines and 4xx prove the provider is up: they never count.
	for _, err := range []error{declined, invalid, declined, invalid} {
		b.Observe(ctx, call(oc, err))
	}
	if s := state(t, b, oc); s.State != health.Closed || s.Failures != 0 {
		t.Fatalf("after declines and 4xx: %+v, want closed with 0 failures", s)
	}

	// Two failures, then an answer: the count of consecutive failures starts again.
	b.Observe(ctx, call(oc, unavailable))
	b.Observe(ctx, call(oc, unavailable))
	if s := state(t, b, oc); s.State != health.Closed || s.Failures != 2 {
		t.Fatalf("after 2 failures: %+v", s)
	}
	b.Observe(ctx, call(oc, nil))
	if s := state(t, b, oc); s.Failures != 0 {
		t.Fatalf("a success did not reset the count: %+v", s)
	}

	// Three consecutive failures open it, for the cool-down.
	for range 3 {
		if !b.Available(ctx, oc) {
			t.Fatal("closed breaker reported unavailable")
		}
		b.Observe(ctx, call(oc, unavailable))
	}
	s := state(t, b, oc)
	if s.State != health.Open || !s.OpenUntil.Equal(c.Now().Add(30*time.Second)) || s.LastError == "" {
		t.Fatalf("after 3 failures: %+v, want open until now+30s with the error", s)
	}
	if b.Available(ctx, oc) {
		t.Fatal("open breaker reported available")
	}
	if !b.Available(ctx, providers.EnKash) {
		t.Fatal("the other provider's breaker moved too")
	}

	// While open, a success of another call does not close it before the cool-down.
	b.Observe(ctx, call(oc, nil))
	if b.Available(ctx, oc) {
		t.Fatal("a success during the cool-down closed the breaker")
	}

	// No probe before the cool-down ends.
	probes := 0
	probe := func(error) health.ProbeFunc {
		return func(ctx context.Context, id providers.ID) error { probes++; return nil }
	}
	c.Add(29 * time.Second)
	if got, err := b.ProbeDue(ctx, probe(nil)); err != nil || len(got) != 0 || probes != 0 {
		t.Fatalf("probed %v (err %v) before the cool-down ended", got, err)
	}

	// After it: a failed probe opens it again for another cool-down.
	c.Add(time.Second)
	failing := func(ctx context.Context, id providers.ID) error { probes++; return unavailable }
	if got, err := b.ProbeDue(ctx, failing); err != nil || len(got) != 1 || got[0] != oc {
		t.Fatalf("ProbeDue = %v, %v; want [onecheckout]", got, err)
	}
	s = state(t, b, oc)
	if s.State != health.Open || !s.OpenUntil.Equal(c.Now().Add(30*time.Second)) {
		t.Fatalf("after a failed probe: %+v, want open for another cool-down", s)
	}

	// A probe answered "not found" (the provider is up) closes it.
	c.Add(30 * time.Second)
	answering := func(ctx context.Context, id providers.ID) error { probes++; return notFound }
	if got, err := b.ProbeDue(ctx, answering); err != nil || len(got) != 1 {
		t.Fatalf("ProbeDue = %v, %v", got, err)
	}
	if s := state(t, b, oc); s.State != health.Closed || s.Failures != 0 {
		t.Fatalf("after a successful probe: %+v, want closed", s)
	}
	if !b.Available(ctx, oc) {
		t.Fatal("closed breaker reported unavailable")
	}
	if probes != 2 {
		t.Fatalf("%d probes, want 2", probes)
	}
	want := []string{"onecheckout→open", "onecheckout→half_open", "onecheckout→open", "onecheckout→half_open", "onecheckout→closed"}
	if len(transitions) != len(want) {
		t.Fatalf("transitions %v, want %v", transitions, want)
	}
	for i := range want {
		if transitions[i] != want[i] {
			t.Fatalf("transitions %v, want %v", transitions, want)
		}
	}
}

// TestBreakerSharedAcrossInstances runs two instances' breakers on one database: a breaker one
// opens is open for the other, only one claims the probe, and a probe lost with its instance
// is claimed again when its lease ends.
func TestBreakerSharedAcrossInstances(t *testing.T) {
	ctx := context.Background()
	d := openDB(t)
	c := &clock{t: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
	a, b := newBreakers(t, d, c, nil), newBreakers(t, d, c, nil)
	oc := providers.Onecheckout

	// Failures seen by either instance add up.
	a.Observe(ctx, call(oc, unavailable))
	b.Observe(ctx, call(oc, unavailable))
	a.Observe(ctx, call(oc, unavailable))
	c.Add(2 * time.Second) // past b's cache
	if b.Available(ctx, oc) {
		t.Fatal("instance b still offers a provider instance a's failures opened")
	}

	c.Add(30 * time.Second)
	hang := make(chan struct{})
	started := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	var aProbed []providers.ID
	go func() {
		defer wg.Done()
		aProbed, _ = a.ProbeDue(ctx, func(ctx context.Context, id providers.ID) error {
			close(started)
			<-hang
			return unavailable
		})
	}()
	<-started
	// While a probes, b finds nothing to claim and does not offer the provider.
	if got, err := b.ProbeDue(ctx, func(context.Context, providers.ID) error { t.Error("b probed too"); return nil }); err != nil || len(got) != 0 {
		t.Fatalf("b.ProbeDue = %v, %v while a holds the probe", got, err)
	}
	c.Add(2 * time.Second)
	if b.Available(ctx, oc) {
		t.Fatal("a half-open provider is offered")
	}
	close(hang)
	wg.Wait()
	if len(aProbed) != 1 {
		t.Fatalf("a probed %v", aProbed)
	}
	if s := state(t, b, oc); s.State != health.Open {
		t.Fatalf("after a's failed probe: %+v, want open", s)
	}

	// An instance that claims the probe and dies never records an outcome: the breaker stays
	// half-open until the lease ends, then another instance claims the probe again.
	c.Add(30 * time.Second)
	if ok, err := d.ClaimProviderProbe(ctx, oc, c.Now(), c.Now().Add(10*time.Second)); err != nil || !ok {
		t.Fatalf("claim = %v, %v", ok, err)
	}
	c.Add(5 * time.Second)
	if got, err := b.ProbeDue(ctx, func(context.Context, providers.ID) error { t.Error("probed during another's lease"); return nil }); err != nil || len(got) != 0 {
		t.Fatalf("b.ProbeDue = %v, %v during the dead instance's lease", got, err)
	}
	c.Add(6 * time.Second)
	if got, err := b.ProbeDue(ctx, func(context.Context, providers.ID) error { return nil }); err != nil || len(got) != 1 {
		t.Fatalf("b.ProbeDue = %v, %v after the lease ended", got, err)
	}
	c.Add(2 * time.Second)
	if !a.Available(ctx, oc) {
		t.Fatal("instance a does not offer the provider b's probe brought back")
	}
}

// TestCachedListsDoNotResetFailures: currency and method lists mostly come from the adapters'
// caches, so their successes between failing orders must not keep a dead provider closed.
func TestCachedListsDoNotResetFailures(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
	b := newBreakers(t, openDB(t), c, nil)
	oc := providers.Onecheckout
	list := instrumented.Call{Provider: oc, Operation: instrumented.OpCurrencies, Outcome: instrumented.OutcomeOK}
	for range 3 {
		b.Observe(ctx, list)
		b.Observe(ctx, call(oc, unavailable))
	}
	if b.Available(ctx, oc) {
		t.Fatal("three failed orders separated by cached currency lists left the breaker closed")
	}
}
