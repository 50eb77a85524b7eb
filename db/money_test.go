package db

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/kassa-pay/kassa/checkout"
)

// Issue 10 item 6: a claim whose request died frees its key after a short lease, not a day.
func TestIdempotencyClaimIsALease(t *testing.T) {
	d, _ := open(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	d.Now = func() time.Time { return now }
	if got, err := d.ClaimIdempotencyKey(ctx, "app", "k", "h1"); err != nil || !got.Claimed {
		t.Fatalf("first claim: %+v, %v", got, err)
	}
	now = now.Add(30 * time.Second)
	if got, _ := d.ClaimIdempotencyKey(ctx, "app", "k", "h1"); got.Claimed || got.Done {
		t.Fatalf("a claim within its lease: %+v, want held", got)
	}
	now = now.Add(IdempotencyLease)
	got, err := d.ClaimIdempotencyKey(ctx, "app", "k", "h1")
	if err != nil || !got.Claimed {
		t.Fatalf("after the lease of a request that never finished: %+v, %v; want the key claimable again", got, err)
	}
	if err := d.FinishIdempotencyKey(ctx, "app", "k", 201, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Hour)
	if got, _ := d.ClaimIdempotencyKey(ctx, "app", "k", "h1"); got.Claimed || !got.Done {
		t.Fatalf("a finished key: %+v, want its answer replayed for a day", got)
	}
}

// Issue 10 item 4: the store refuses a second attempt holding the same payment, provider and
// method slot, and frees the slot when the first ends.
func TestOneLiveAttemptPerPaymentProviderMethod(t *testing.T) {
	d, _ := open(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	svc := &checkout.Service{Store: d}
	app, err := svc.NewApp(ctx, "Shop", "")
	if err != nil {
		t.Fatal(err)
	}
	p := &checkout.Payment{ID: "pay_slot", ClientID: app.ClientID, Money: checkout.Money{Amount: 100, Currency: "USD"}, Reference: "R",
		ReferenceLabel: "R", Status: checkout.PaymentOpen, ExpiresAt: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now}
	if err := d.CreatePayment(ctx, p, checkout.Event{PaymentID: p.ID, Type: "payment.created", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	attempt := func(id, method string) error {
		a := &checkout.Attempt{ID: id, PaymentID: p.ID, Provider: "fake", Method: method, Status: checkout.AttemptCreating,
			Money: p.Money, CreatedAt: now, UpdatedAt: now}
		return d.CreateAttempt(ctx, a, checkout.Event{PaymentID: p.ID, AttemptID: id, Type: "attempt.created", CreatedAt: now})
	}
	if err := attempt("att_1", "airtel"); err != nil {
		t.Fatal(err)
	}
	if err := attempt("att_2", "airtel"); !errors.Is(err, checkout.ErrConflict) {
		t.Fatalf("a second live attempt for the same method: %v, want ErrConflict", err)
	}
	if err := attempt("att_3", "mpamba"); err != nil {
		t.Fatalf("another method: %v", err)
	}
	if err := d.Apply(ctx, checkout.Change{Attempt: &checkout.AttemptChange{ID: "att_1", From: []checkout.AttemptStatus{checkout.AttemptCreating},
		To: checkout.AttemptPending, Checks: -1, At: now}}); err != nil {
		t.Fatal(err)
	}
	if err := attempt("att_4", "airtel"); !errors.Is(err, checkout.ErrConflict) {
		t.Fatalf("while the first is pending: %v, want ErrConflict", err)
	}
	if err := d.Apply(ctx, checkout.Change{Attempt: &checkout.AttemptChange{ID: "att_1", From: []checkout.AttemptStatus{checkout.AttemptPending},
		To: checkout.AttemptDeclined, Checks: -1, At: now}}); err != nil {
		t.Fatal(err)
	}
	if err := attempt("att_5", "airtel"); err != nil {
		t.Fatalf("once the first was declined: %v", err)
	}
}

// Keys older than the replay window are forgotten by the cleanup job; younger ones stay.
func TestExpiredIdempotencyKeysDeleted(t *testing.T) {
	d, _ := open(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	d.Now = func() time.Time { return now }
	for _, k := range []string{"old-1", "old-2"} {
		if _, err := d.ClaimIdempotencyKey(ctx, "app", k, "h"); err != nil {
			t.Fatal(err)
		}
	}
	now = now.Add(IdempotencyTTL - time.Minute)
	if _, err := d.ClaimIdempotencyKey(ctx, "app", "young", "h"); err != nil {
		t.Fatal(err)
	}
	if err := d.FinishIdempotencyKey(ctx, "app", "young", 201, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Minute)
	if n, err := d.DeleteExpiredIdempotencyKeys(ctx); err != nil || n != 2 {
		t.Fatalf("deleted %d keys (%v), want the 2 older than %s", n, err, IdempotencyTTL)
	}
	if got, _ := d.ClaimIdempotencyKey(ctx, "app", "young", "h"); !got.Done {
		t.Fatalf("the young key's answer is no longer replayed: %+v", got)
	}
}
