package db

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/kassa-pay/kassa/checkout"
)

// linkService is a checkout service on a fresh database with one application.
func linkService(t *testing.T) (*checkout.Service, *DB, *checkout.App) {
	t.Helper()
	d, _ := open(t)
	svc := &checkout.Service{Store: d}
	app, err := svc.NewApp(context.Background(), "Stall", "")
	if err != nil {
		t.Fatal(err)
	}
	return svc, d, app
}

// TestLinkLastPlaceRace: many shoppers press "Continue to payment" at once for a link with one
// place left. Exactly one payment is created; every other shopper is told the link is taken,
// and nothing of theirs is stored.
func TestLinkLastPlaceRace(t *testing.T) {
	svc, d, app := linkService(t)
	ctx := context.Background()
	l, err := svc.CreateLink(ctx, checkout.NewLink{ClientID: app.ClientID, Name: "Last ticket", Amount: 1500, Currency: "USD", MaxPayments: 2})
	if err != nil {
		t.Fatal(err)
	}
	first, err := svc.PayLink(ctx, l.ID, 1)
	if err != nil {
		t.Fatal(err)
	}
	const shoppers = 16
	var wg sync.WaitGroup
	var mu sync.Mutex
	var won []*checkout.Payment
	refused := 0
	start := make(chan struct{})
	for range shoppers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			p, err := svc.PayLink(ctx, l.ID, 1)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won = append(won, p)
			case checkout.ClosedReason(err) == checkout.LinkHeld:
				refused++
			default:
				t.Errorf("shopper: %v", err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if len(won) != 1 || refused != shoppers-1 {
		t.Fatalf("%d shoppers got the last place, %d were refused; want 1 and %d", len(won), refused, shoppers-1)
	}
	n, _ := d.CountPayments(ctx)
	if n != 2 {
		t.Fatalf("%d payments stored, want 2", n)
	}
	var events int
	d.read.QueryRow(`SELECT COUNT(*) FROM events`).Scan(&events)
	if events != 2 {
		t.Fatalf("%d events stored, want 2: a refused shopper must leave nothing", events)
	}

	// The first payment expires: its place comes back, and one more shopper gets it.
	now := time.Now()
	if err := d.Apply(ctx, checkout.Change{Payment: &checkout.PaymentChange{ID: first.ID,
		From: []checkout.PaymentStatus{checkout.PaymentOpen}, To: checkout.PaymentExpired, At: now}}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.PayLink(ctx, l.ID, 1); err != nil {
		t.Fatalf("after a payment expired, its place is not given back: %v", err)
	}
	if _, err := svc.PayLink(ctx, l.ID, 1); checkout.ClosedReason(err) != checkout.LinkHeld {
		t.Fatalf("a third payment for two places: %v", err)
	}
}

// TestLinkCountersFollowPayments: created, paid and collected are counted over the link's
// payments, so a payment becoming paid shows at once, and a used-up link closes for good.
func TestLinkCountersFollowPayments(t *testing.T) {
	svc, d, app := linkService(t)
	ctx := context.Background()
	l, err := svc.CreateLink(ctx, checkout.NewLink{ClientID: app.ClientID, Name: "Mangoes", Amount: 250, Currency: "MWK",
		Quantity: &checkout.LinkQuantity{Min: 1, Max: 10}, MaxPayments: 1, Metadata: map[string]string{"stall": "7"},
		SuccessURL: "https://shop.example/thanks?p={PAYMENT_ID}"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := svc.PayLink(ctx, l.ID, 4)
	if err != nil {
		t.Fatal(err)
	}
	got, err := d.FindPayment(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.LinkID != l.ID || got.Amount != 1000 || got.Metadata["stall"] != "7" || got.SuccessURL != "https://shop.example/thanks?p="+p.ID ||
		len(got.LineItems) != 1 || got.LineItems[0].Quantity != 4 || got.LineItems[0].UnitAmount != 250 {
		t.Fatalf("stored link payment %+v", got)
	}
	l, _ = svc.Link(ctx, l.ID)
	if l.Counts.Created != 1 || l.Counts.Paid != 0 || l.Counts.Held != 1 || len(l.Counts.Collected) != 0 {
		t.Fatalf("counts before paying %+v", l.Counts)
	}
	now := time.Now()
	if err := d.Apply(ctx, checkout.Change{Payment: &checkout.PaymentChange{ID: p.ID,
		From: []checkout.PaymentStatus{checkout.PaymentOpen}, To: checkout.PaymentPaid, PaidAt: now, At: now}}); err != nil {
		t.Fatal(err)
	}
	l, _ = svc.Link(ctx, l.ID)
	if l.Counts.Created != 1 || l.Counts.Paid != 1 || len(l.Counts.Collected) != 1 ||
		l.Counts.Collected[0] != (checkout.Money{Amount: 1000, Currency: "MWK"}) {
		t.Fatalf("counts after paying %+v", l.Counts)
	}
	if why := l.Closed(time.Now()); why != checkout.LinkUsedUp {
		t.Fatalf("a link whose one payment is paid is %q, want used up", why)
	}
	if _, err := svc.PayLink(ctx, l.ID, 1); checkout.ClosedReason(err) != checkout.LinkUsedUp {
		t.Fatalf("paying a used-up link: %v", err)
	}
	list, err := d.ListLinks(ctx, app.ClientID, 10)
	if err != nil || len(list) != 1 || list[0].Counts.Paid != 1 {
		t.Fatalf("list %+v %v", list, err)
	}
	pays, err := d.LinkPayments(ctx, l.ID, 10)
	if err != nil || len(pays) != 1 || pays[0].ID != p.ID {
		t.Fatalf("link payments %+v %v", pays, err)
	}
}

// TestLinkPaymentRefusedWhenInactiveOrExpired: the store itself refuses a payment of a link
// that was deactivated or expired after the service read it.
func TestLinkPaymentRefusedWhenInactiveOrExpired(t *testing.T) {
	svc, d, app := linkService(t)
	ctx := context.Background()
	l, err := svc.CreateLink(ctx, checkout.NewLink{ClientID: app.ClientID, Name: "Tea", Amount: 100, Currency: "USD",
		ExpiresAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	pay := func(id string, at time.Time) error {
		p := &checkout.Payment{ID: id, ClientID: app.ClientID, Money: checkout.Money{Amount: 100, Currency: "USD"}, Reference: l.ID,
			ReferenceLabel: "Tea", Status: checkout.PaymentOpen, ExpiresAt: at.Add(time.Hour), CreatedAt: at, UpdatedAt: at, LinkID: l.ID}
		return d.CreateLinkPayment(ctx, p, checkout.Event{PaymentID: id, Type: checkout.EventPaymentCreated, CreatedAt: at}, 0, at)
	}
	if err := pay("pay_late", now.Add(2*time.Hour)); !errors.Is(err, checkout.ErrConflict) {
		t.Fatalf("a payment after the link's expiry: %v", err)
	}
	off := false
	if _, err := svc.UpdateLink(ctx, l.ID, checkout.LinkPatch{Active: &off}); err != nil {
		t.Fatal(err)
	}
	if err := pay("pay_off", now); !errors.Is(err, checkout.ErrConflict) {
		t.Fatalf("a payment of an inactive link: %v", err)
	}
	if n, _ := d.CountPayments(ctx); n != 0 {
		t.Fatalf("%d payments stored", n)
	}
}

// TestLinkPlaceHeldByLiveAttempt: a link payment past its expiry whose attempt is still live at
// the provider (the shopper is on the provider's page, or a push waits on the phone) may still
// be paid, so it keeps its place: a second shopper must not take it and sell the link beyond
// maxPayments. The place comes back once the attempt ends.
func TestLinkPlaceHeldByLiveAttempt(t *testing.T) {
	svc, d, app := linkService(t)
	ctx := context.Background()
	l, err := svc.CreateLink(ctx, checkout.NewLink{ClientID: app.ClientID, Name: "One seat", Amount: 1500, Currency: "USD", MaxPayments: 1})
	if err != nil {
		t.Fatal(err)
	}
	first, err := svc.PayLink(ctx, l.ID, 1)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	a := &checkout.Attempt{ID: "att_live", PaymentID: first.ID, Provider: "onecheckout", Status: checkout.AttemptPending,
		ProviderRef: "ord_1", Money: first.Money, CreatedAt: now, UpdatedAt: now}
	if err := d.CreateAttempt(ctx, a, checkout.Event{PaymentID: first.ID, AttemptID: a.ID, Type: checkout.EventAttemptCreated, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := d.Apply(ctx, checkout.Change{Payment: &checkout.PaymentChange{ID: first.ID,
		From: []checkout.PaymentStatus{checkout.PaymentOpen}, To: checkout.PaymentExpired, At: now}}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.PayLink(ctx, l.ID, 1); checkout.ClosedReason(err) != checkout.LinkHeld {
		t.Fatalf("a second shopper took the place of an expired payment still being paid at the provider: %v", err)
	}
	if got, _ := svc.Link(ctx, l.ID); got.Counts.Held != 1 {
		t.Fatalf("held %d, want 1", got.Counts.Held)
	}
	// The provider says the order expired: the place comes back.
	if err := d.Apply(ctx, checkout.Change{Attempt: &checkout.AttemptChange{ID: a.ID, From: []checkout.AttemptStatus{checkout.AttemptPending},
		To: checkout.AttemptExpired, Checks: -1, At: now}}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.PayLink(ctx, l.ID, 1); err != nil {
		t.Fatalf("after the attempt ended, the place is not given back: %v", err)
	}
}
