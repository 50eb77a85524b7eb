package db

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kassa-pay/kassa/checkout"
)

// seedAttempts adds n attempts to payment p in status st, due for a check at due.
func seedAttempts(t *testing.T, d *DB, p *checkout.Payment, n int, st checkout.AttemptStatus, created, due time.Time) []string {
	t.Helper()
	var ids []string
	for i := range n {
		// Each its own method: one payment holds one live attempt per provider and method.
		a := &checkout.Attempt{ID: fmt.Sprintf("att_%s_%03d", st, i), PaymentID: p.ID, Provider: "fake", Method: fmt.Sprintf("%s-%d", st, i), Status: st, Money: p.Money,
			ProviderRef: fmt.Sprintf("ord_%d", i), NextCheckAt: due, CreatedAt: created, UpdatedAt: created}
		if err := d.CreateAttempt(context.Background(), a, checkout.Event{PaymentID: p.ID, Type: checkout.EventAttemptCreated, CreatedAt: created}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, a.ID)
	}
	return ids
}

// TestClaimsAreExclusiveAcrossInstances has three handles on one database (three instances)
// claim due attempts, stuck attempts and expired payments all at once: every item is handed
// out exactly once, and a second pass while the leases hold finds nothing.
func TestClaimsAreExclusiveAcrossInstances(t *testing.T) {
	d, dbURL := open(t)
	ctx := context.Background()
	p := seed(t, d)
	now := time.Now().UTC().Truncate(time.Millisecond)
	due := seedAttempts(t, d, p, 25, checkout.AttemptPending, now.Add(-time.Hour), now.Add(-time.Second))
	seedAttempts(t, d, p, 3, checkout.AttemptAuthorized, now, now.Add(time.Hour)) // not due yet
	stale := seedAttempts(t, d, p, 12, checkout.AttemptCreating, now.Add(-time.Hour), time.Time{})
	var expired []string
	for i := range 15 {
		q := *p
		q.ID, q.ExpiresAt = fmt.Sprintf("pay_exp_%02d", i), now.Add(-time.Minute)
		if err := d.CreatePayment(ctx, &q, checkout.Event{PaymentID: q.ID, Type: checkout.EventPaymentCreated, CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
		expired = append(expired, q.ID)
	}
	instances := []*DB{d, reopen(t, dbURL), reopen(t, dbURL)}

	var mu sync.Mutex
	got := map[string]int{}
	var wg sync.WaitGroup
	for _, inst := range instances {
		for range 3 { // several passes per instance, racing with the others
			wg.Go(func() {
				for range 4 {
					as, err := inst.DueAttempts(ctx, now, 100)
					if err != nil {
						t.Error(err)
						return
					}
					st, err := inst.StaleCreating(ctx, now.Add(-time.Minute), 100)
					if err != nil {
						t.Error(err)
						return
					}
					ps, err := inst.ExpiredPayments(ctx, now, 100)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					for _, a := range append(as, st...) {
						got[a.ID]++
					}
					for _, id := range ps {
						got[id]++
					}
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	want := append(append(append([]string{}, due...), stale...), expired...)
	for _, id := range want {
		if got[id] != 1 {
			t.Errorf("%s claimed %d times, want once", id, got[id])
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d items claimed, want %d: %v", len(got), len(want), got)
	}

	// While the leases hold nothing is handed out again; once they run out, all of it is
	// (an instance that died mid-item lets go by expiry).
	if as, _ := d.DueAttempts(ctx, now, 100); len(as) != 0 {
		t.Fatalf("%d due attempts handed out again while leased", len(as))
	}
	later := now.Add(ClaimLease + time.Second)
	if as, _ := d.DueAttempts(ctx, later, 100); len(as) != ClaimBatch {
		t.Fatalf("after the lease: %d due attempts, want a full batch of %d", len(as), ClaimBatch)
	}
}

// TestApplyEndsTheLease: a claimed attempt whose check was recorded is free for its next check
// at once, without waiting for the lease to run out.
func TestApplyEndsTheLease(t *testing.T) {
	d, _ := open(t)
	ctx := context.Background()
	p := seed(t, d)
	now := time.Now().UTC().Truncate(time.Millisecond)
	ids := seedAttempts(t, d, p, 1, checkout.AttemptPending, now, now.Add(-time.Second))
	if as, err := d.DueAttempts(ctx, now, 10); err != nil || len(as) != 1 {
		t.Fatalf("claim: %v %v", as, err)
	}
	next := now.Add(10 * time.Second)
	if err := d.Apply(ctx, checkout.Change{Attempt: &checkout.AttemptChange{ID: ids[0], From: []checkout.AttemptStatus{checkout.AttemptPending},
		To: checkout.AttemptPending, Checks: 1, NextCheckAt: next, At: now}}); err != nil {
		t.Fatal(err)
	}
	if as, err := d.DueAttempts(ctx, next, 10); err != nil || len(as) != 1 || as[0].Checks != 1 {
		t.Fatalf("the next check, due within the old lease: %v %v", as, err)
	}
}

// TestReleaseClaims: an instance shutting down hands its claimed work back at once, and only
// its own.
func TestReleaseClaims(t *testing.T) {
	d, dbURL := open(t)
	ctx := context.Background()
	other := reopen(t, dbURL)
	p := seed(t, d)
	now := time.Now().UTC().Truncate(time.Millisecond)
	seedAttempts(t, d, p, 4, checkout.AttemptPending, now, now.Add(-time.Second))
	if as, err := d.DueAttempts(ctx, now, 2); err != nil || len(as) != 2 {
		t.Fatalf("first instance claims: %v %v", as, err)
	}
	if as, err := other.DueAttempts(ctx, now, 2); err != nil || len(as) != 2 {
		t.Fatalf("second instance claims: %v %v", as, err)
	}
	if err := d.ReleaseClaims(ctx); err != nil {
		t.Fatal(err)
	}
	if as, err := other.DueAttempts(ctx, now, 10); err != nil || len(as) != 2 {
		t.Fatalf("after the first let go, the second finds %d (%v), want the first's 2", len(as), err)
	}
}

// TestRateCounterIsShared counts requests from three instances at once into one window.
func TestRateCounterIsShared(t *testing.T) {
	d, dbURL := open(t)
	ctx := context.Background()
	instances := []*DB{d, reopen(t, dbURL), reopen(t, dbURL)}
	window := time.Now().Truncate(time.Minute)
	var mu sync.Mutex
	seen := map[int]bool{}
	var wg sync.WaitGroup
	for _, inst := range instances {
		wg.Go(func() {
			for range 20 {
				n, err := inst.CountRequest(ctx, "tok_1", window)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if seen[n] {
					t.Errorf("count %d handed out twice", n)
				}
				seen[n] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != 60 || !seen[60] {
		t.Fatalf("counts %v, want 1..60", seen)
	}
	if n, _ := d.CountRequest(ctx, "tok_2", window); n != 1 {
		t.Fatalf("another token starts at %d", n)
	}
	if n, _ := d.CountRequest(ctx, "tok_1", window.Add(time.Minute)); n != 1 {
		t.Fatalf("the next window starts at %d", n)
	}
	if n, _ := d.CountRequest(ctx, "tok_1", window); n != 2 {
		t.Fatalf("a late request of the old window counts in the current one: %d", n)
	}
}

// TestIdempotencyClaimIsExclusive: of many instances claiming one key at once, exactly one
// runs the request, and the others see it in flight.
func TestIdempotencyClaimIsExclusive(t *testing.T) {
	d, dbURL := open(t)
	ctx := context.Background()
	instances := []*DB{d, reopen(t, dbURL), reopen(t, dbURL)}
	var mu sync.Mutex
	claimed := 0
	var wg sync.WaitGroup
	for i := range 12 {
		inst := instances[i%len(instances)]
		wg.Go(func() {
			r, err := inst.ClaimIdempotencyKey(ctx, "client", "key-1", "hash")
			if err != nil {
				t.Error(err)
				return
			}
			if !r.SameRequest || r.Done {
				t.Errorf("claim answered %+v", r)
			}
			if r.Claimed {
				mu.Lock()
				claimed++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if claimed != 1 {
		t.Fatalf("%d claimants ran the request, want 1", claimed)
	}
}

// TestConcurrentStartsMigrateOnce opens a fresh database from several instances at once.
func TestConcurrentStartsMigrateOnce(t *testing.T) {
	first, _ := open(t)
	if first.Dialect() == "sqlite" {
		return // one SQLite file is one instance; its migrations are serialised by its writer
	}
	// A database of its own, still empty: open(t) migrated the first.
	first.Close()
	fresh := freshPostgres(t)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			d, err := Open(context.Background(), fresh)
			if err != nil {
				t.Error(err)
				return
			}
			d.Close()
		})
	}
	wg.Wait()
	d := reopen(t, fresh)
	var n int
	files, _ := migrations.ReadDir("migrations/postgres")
	if err := d.read.QueryRow(`SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil || n != len(files) {
		t.Fatalf("%d migrations recorded for %d files (%v)", n, len(files), err)
	}
}

// A due attempt in review is still polled: review is a live state (a later correct reading
// pays it), so the claim of due attempts must hand it out like a pending one.
func TestReviewAttemptsAreClaimed(t *testing.T) {
	d, _ := open(t)
	p := seed(t, d)
	now := time.Now().UTC().Truncate(time.Millisecond)
	want := seedAttempts(t, d, p, 2, checkout.AttemptReview, now.Add(-time.Hour), now.Add(-time.Second))
	got, err := d.DueAttempts(context.Background(), now, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("claimed %d due attempts in review, want %d", len(got), len(want))
	}
}
