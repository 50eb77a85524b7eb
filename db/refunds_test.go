package db

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kassa-pay/kassa/checkout"
)

// paidSeed is seed's payment of 100, paid through one attempt.
func paidSeed(t *testing.T, d *DB) *checkout.Payment {
	t.Helper()
	ctx := context.Background()
	p := seed(t, d)
	now := time.Now().UTC().Truncate(time.Millisecond)
	a := &checkout.Attempt{ID: "att_1", PaymentID: p.ID, Provider: "onecheckout", Status: checkout.AttemptPaid, Money: p.Money, CreatedAt: now, UpdatedAt: now}
	if err := d.CreateAttempt(ctx, a, checkout.Event{PaymentID: p.ID, Type: checkout.EventAttemptCreated, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := d.Apply(ctx, checkout.Change{Payment: &checkout.PaymentChange{ID: p.ID, From: []checkout.PaymentStatus{checkout.PaymentOpen},
		To: checkout.PaymentPaid, PaidAt: now, At: now}}); err != nil {
		t.Fatal(err)
	}
	return p
}

var errNoRoom = errors.New("no room")

// TestLockRefundsSerialisesRacingRefunds: 20 writers each read what is left under the lock and
// add a refund of 7 only if it fits; the 100 paid is never exceeded, and exactly 14 fit.
func TestLockRefundsSerialisesRacingRefunds(t *testing.T) {
	d, _ := open(t)
	p := paidSeed(t, d)
	ctx := context.Background()
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			err := d.LockRefunds(ctx, p.ID, func(p *checkout.Payment) (checkout.RefundChange, error) {
				if p.Refundable() < 7 {
					return checkout.RefundChange{}, errNoRoom
				}
				now := time.Now().UTC().Truncate(time.Millisecond)
				return checkout.RefundChange{Insert: &checkout.Refund{ID: fmt.Sprintf("ref_%02d", i), PaymentID: p.ID, AttemptID: "att_1",
					Provider: "onecheckout", Money: checkout.Money{Amount: 7, Currency: "USD"}, Reason: checkout.ReasonOther,
					Status: checkout.RefundManual, CreatedAt: now, UpdatedAt: now}}, nil
			})
			if err != nil && !errors.Is(err, errNoRoom) {
				t.Error(err)
			}
		}()
	}
	close(start)
	wg.Wait()
	got, err := d.FindPayment(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	var held int64
	for _, r := range got.Refunds {
		held += r.Amount
	}
	if len(got.Refunds) != 14 || held != 98 {
		t.Fatalf("%d refunds holding %d of 100, want 14 holding 98", len(got.Refunds), held)
	}
}

// TestRefundLease: a claimed refund is not due for anyone else until its lease runs out, and a
// final update releases it.
func TestRefundLease(t *testing.T) {
	d, _ := open(t)
	p := paidSeed(t, d)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	r := &checkout.Refund{ID: "ref_1", PaymentID: p.ID, AttemptID: "att_1", Provider: "enkash", Money: checkout.Money{Amount: 50, Currency: "USD"},
		Reason: checkout.ReasonOther, Status: checkout.RefundPending, NextCheckAt: now, CreatedAt: now, UpdatedAt: now}
	if err := d.LockRefunds(ctx, p.ID, func(*checkout.Payment) (checkout.RefundChange, error) {
		return checkout.RefundChange{Insert: r}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if due, _ := d.DueRefunds(ctx, now, 10); len(due) != 1 {
		t.Fatalf("due %v", due)
	}
	if ok, err := d.ClaimRefund(ctx, r.ID, "a", now, now.Add(time.Minute)); !ok || err != nil {
		t.Fatalf("first claim: %v %v", ok, err)
	}
	if ok, _ := d.ClaimRefund(ctx, r.ID, "b", now.Add(time.Second), now.Add(time.Minute)); ok {
		t.Fatal("a held lease was claimed again")
	}
	if due, _ := d.DueRefunds(ctx, now.Add(time.Second), 10); len(due) != 0 {
		t.Fatalf("a leased refund is due: %v", due)
	}
	if ok, _ := d.ClaimRefund(ctx, r.ID, "b", now.Add(2*time.Minute), now.Add(3*time.Minute)); !ok {
		t.Fatal("an expired lease could not be claimed")
	}
	if err := d.LockRefunds(ctx, p.ID, func(*checkout.Payment) (checkout.RefundChange, error) {
		return checkout.RefundChange{Update: &checkout.RefundUpdate{ID: r.ID, From: []checkout.RefundStatus{checkout.RefundPending},
			To: checkout.RefundSucceeded, At: now}}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if ok, _ := d.ClaimRefund(ctx, r.ID, "c", now.Add(time.Hour), now.Add(2*time.Hour)); ok {
		t.Fatal("a final refund was claimed")
	}
	// A conditional update from a status the refund is no longer in changes nothing.
	err := d.LockRefunds(ctx, p.ID, func(*checkout.Payment) (checkout.RefundChange, error) {
		return checkout.RefundChange{Update: &checkout.RefundUpdate{ID: r.ID, From: []checkout.RefundStatus{checkout.RefundPending},
			To: checkout.RefundFailed, At: now}}, nil
	})
	if !errors.Is(err, checkout.ErrConflict) {
		t.Fatalf("stale update: %v, want ErrConflict", err)
	}
}

// TestRefundClaimNotDue: an instance that listed a refund as due, and reaches its claim after
// another instance has checked it (leaving it pending, its next check later, its lease let go),
// does not take it and ask the provider again before its next check is due.
func TestRefundClaimNotDue(t *testing.T) {
	d, _ := open(t)
	p := paidSeed(t, d)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	r := &checkout.Refund{ID: "ref_1", PaymentID: p.ID, AttemptID: "att_1", Provider: "enkash", Money: checkout.Money{Amount: 50, Currency: "USD"},
		Reason: checkout.ReasonOther, Status: checkout.RefundPending, NextCheckAt: now, CreatedAt: now, UpdatedAt: now}
	if err := d.LockRefunds(ctx, p.ID, func(*checkout.Payment) (checkout.RefundChange, error) {
		return checkout.RefundChange{Insert: r}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if ok, err := d.ClaimRefund(ctx, r.ID, "a", now, now.Add(time.Minute)); !ok || err != nil {
		t.Fatalf("first claim: %v %v", ok, err)
	}
	if err := d.LockRefunds(ctx, p.ID, func(*checkout.Payment) (checkout.RefundChange, error) {
		return checkout.RefundChange{Update: &checkout.RefundUpdate{ID: r.ID, From: []checkout.RefundStatus{checkout.RefundPending},
			To: checkout.RefundPending, Checks: 1, NextCheckAt: now.Add(time.Hour), At: now}}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if ok, err := d.ClaimRefund(ctx, r.ID, "b", now.Add(time.Second), now.Add(time.Minute)); ok || err != nil {
		t.Fatalf("a refund checked a moment ago, next due in an hour, was claimed again: %v %v", ok, err)
	}
	if ok, err := d.ClaimRefund(ctx, r.ID, "b", now.Add(time.Hour), now.Add(time.Hour+time.Minute)); !ok || err != nil {
		t.Fatalf("a refund due again could not be claimed: %v %v", ok, err)
	}
}
