package db

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kassa-pay/kassa/checkout"
)

// seedHooked is seed with a webhook URL on the application.
func seedHooked(t *testing.T, d *DB) *checkout.Payment {
	t.Helper()
	p := seed(t, d)
	if _, err := d.write.Exec(`UPDATE apps SET webhook_url = 'https://shop.example/kassa'`); err != nil {
		t.Fatal(err)
	}
	return p
}

func countDeliveries(t *testing.T, d *DB) int {
	t.Helper()
	var n int
	if err := d.read.QueryRow(`SELECT COUNT(*) FROM webhook_deliveries`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// The outbox row lives and dies with its event's transaction.
func TestWebhookQueuedInTheEventsTransaction(t *testing.T) {
	d, _ := open(t)
	ctx := context.Background()
	p := seedHooked(t, d)
	if n := countDeliveries(t, d); n != 0 {
		t.Fatalf("payment.created queued %d deliveries; merchants do not hear about it", n)
	}
	now := time.Now()
	cancel := checkout.Change{
		Payment: &checkout.PaymentChange{ID: p.ID, From: []checkout.PaymentStatus{checkout.PaymentOpen}, To: checkout.PaymentCancelled, At: now},
		Events:  []checkout.Event{{PaymentID: p.ID, Type: checkout.EventPaymentCancelled, CreatedAt: now}},
	}
	if err := d.Apply(ctx, cancel); err != nil {
		t.Fatal(err)
	}
	if err := d.Apply(ctx, cancel); !errors.Is(err, checkout.ErrConflict) {
		t.Fatalf("second cancel: %v", err)
	}
	ds, err := d.Deliveries(ctx, p.ID)
	if err != nil || len(ds) != 1 || ds[0].Type != "payment.cancelled" || ds[0].Status != checkout.DeliveryPending || !strings.HasPrefix(ds[0].ID, "msg_") {
		t.Fatalf("deliveries after one cancel and one refused: %+v %v", ds, err)
	}
	// A transaction that fails after its event was written takes the delivery with it.
	boom := errors.New("boom")
	err = d.tx(ctx, func(tx *sql.Tx) error {
		if err := insertEvent(ctx, tx, checkout.Event{PaymentID: p.ID, Type: checkout.EventPaymentExpired, CreatedAt: now}); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM webhook_deliveries`).Scan(&n); err != nil || n != 2 {
			t.Errorf("inside the transaction: %d deliveries, %v", n, err)
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("tx: %v", err)
	}
	if n := countDeliveries(t, d); n != 1 {
		t.Fatalf("%d deliveries after a rolled-back change, want 1", n)
	}
}

// Of many claimers exactly one wins; a lease left by a dead owner is taken over once it runs
// out, and not before.
func TestClaimDeliveryLease(t *testing.T) {
	d, _ := open(t)
	ctx := context.Background()
	p := seedHooked(t, d)
	now := time.Now()
	if err := d.Apply(ctx, checkout.Change{
		Payment: &checkout.PaymentChange{ID: p.ID, From: []checkout.PaymentStatus{checkout.PaymentOpen}, To: checkout.PaymentCancelled, At: now},
		Events:  []checkout.Event{{PaymentID: p.ID, Type: checkout.EventPaymentCancelled, CreatedAt: now}},
	}); err != nil {
		t.Fatal(err)
	}
	due, err := d.DueDeliveries(ctx, now, nil, 10)
	if err != nil || len(due) != 1 {
		t.Fatalf("due: %+v %v", due, err)
	}
	id := due[0].ID
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := d.ClaimDelivery(ctx, id, "worker"+string(rune('a'+i)), now, now.Add(time.Minute), nil)
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d claimers won, want 1", wins)
	}
	if due, _ := d.DueDeliveries(ctx, now.Add(30*time.Second), nil, 10); len(due) != 0 {
		t.Fatal("a leased delivery is listed as due")
	}
	if ok, _ := d.ClaimDelivery(ctx, id, "late", now.Add(30*time.Second), now.Add(90*time.Second), nil); ok {
		t.Fatal("claimed while the lease holds")
	}
	if ok, _ := d.ClaimDelivery(ctx, id, "heir", now.Add(61*time.Second), now.Add(2*time.Minute), []byte(`{"type":"payment.cancelled"}`)); !ok {
		t.Fatal("a lease that ran out was not taken over")
	}
	// Only the lease holder moves the delivery; the stale owner's attempt is still logged.
	stale := checkout.DeliveryOutcome{ID: id, Owner: "workera", Status: checkout.DeliveryDelivered, Tries: 1, At: now,
		Attempt: &checkout.DeliveryAttempt{At: now, URL: "https://shop.example/kassa", HTTPStatus: 200, Duration: time.Millisecond}}
	if err := d.FinishDelivery(ctx, stale); err != nil {
		t.Fatal(err)
	}
	got, _ := d.FindDelivery(ctx, id)
	if got.Status != checkout.DeliveryPending || got.LeaseOwner != "heir" || len(got.Attempts) != 1 || string(got.Body) != `{"type":"payment.cancelled"}` {
		t.Fatalf("after a stale owner's finish: %+v", got)
	}
	if due, _ := d.DueDeliveries(ctx, now.Add(time.Hour), []string{p.ClientID}, 10); len(due) != 0 {
		t.Fatal("a skipped application's delivery is listed")
	}
}

// A batch of claims wins exactly the deliveries no one else holds, in one transaction.
func TestClaimDeliveriesBatch(t *testing.T) {
	d, _ := open(t)
	ctx := context.Background()
	p := seedHooked(t, d)
	now := time.Now()
	for _, typ := range []string{checkout.EventPaymentCancelled, checkout.EventPaymentPaid} {
		if err := d.tx(ctx, func(tx *sql.Tx) error {
			return insertEvent(ctx, tx, checkout.Event{PaymentID: p.ID, Type: typ, CreatedAt: now})
		}); err != nil {
			t.Fatal(err)
		}
	}
	due, _ := d.DueDeliveries(ctx, now, nil, 10)
	if len(due) != 2 {
		t.Fatalf("%d due", len(due))
	}
	if ok, _ := d.ClaimDelivery(ctx, due[0].ID, "other", now, now.Add(time.Minute), nil); !ok {
		t.Fatal("first claim lost")
	}
	due[1].Body = []byte(`{"type":"payment.paid"}`)
	won, err := d.ClaimDeliveries(ctx, due, "me", now, now.Add(time.Minute))
	if err != nil || len(won) != 1 || !won[due[1].ID] {
		t.Fatalf("batch won %v, %v", won, err)
	}
	got, _ := d.FindDelivery(ctx, due[1].ID)
	if got.LeaseOwner != "me" || string(got.Body) != `{"type":"payment.paid"}` {
		t.Fatalf("claimed delivery %+v", got)
	}
}
