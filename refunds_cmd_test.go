package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kassa-pay/kassa/checkout"
	"github.com/kassa-pay/kassa/db"
)

// paidPayment stores a payment paid through Onecheckout, as verification would leave it.
func paidPayment(t *testing.T, dbURL string) string {
	t.Helper()
	ctx := context.Background()
	d, err := db.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	svc := &checkout.Service{Store: d}
	app, _ := svc.NewApp(ctx, "Shop", "")
	p, err := svc.CreatePayment(ctx, checkout.NewPayment{ClientID: app.ClientID, Amount: 5000, Currency: "USD", Reference: "R-1"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	a := &checkout.Attempt{ID: "att_cli", PaymentID: p.ID, Provider: "onecheckout", Status: checkout.AttemptPending, ProviderRef: "ord_1",
		Money: p.Money, CreatedAt: now, UpdatedAt: now}
	if err := d.CreateAttempt(ctx, a, checkout.Event{PaymentID: p.ID, Type: checkout.EventAttemptCreated, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := d.Apply(ctx, checkout.Change{
		Payment: &checkout.PaymentChange{ID: p.ID, From: []checkout.PaymentStatus{checkout.PaymentOpen}, To: checkout.PaymentPaid, PaidAt: now, At: now},
		Attempt: &checkout.AttemptChange{ID: a.ID, From: []checkout.AttemptStatus{checkout.AttemptPending}, To: checkout.AttemptPaid, Checks: -1, At: now},
	}); err != nil {
		t.Fatal(err)
	}
	return p.ID
}

func TestCLIRefunds(t *testing.T) {
	dbURL := "sqlite:" + filepath.Join(t.TempDir(), "k.db")
	id := paidPayment(t, dbURL)
	out, err := kassa(t, "refunds", "create", "--db", dbURL, "--payment", id, "--amount", "1500", "--reason", "duplicate", "--sandbox=false")
	var r map[string]any
	if err != nil || json.Unmarshal([]byte(out), &r) != nil || r["status"] != "manual" || r["amount"] != float64(1500) || r["reason"] != "duplicate" {
		t.Fatalf("refunds create: %v %s", err, out)
	}
	if _, err := kassa(t, "refunds", "create", "--db", dbURL, "--payment", id, "--amount", "3501", "--sandbox=false"); err == nil ||
		!strings.Contains(err.Error(), "At most USD 35.00") {
		t.Fatalf("refunding more than is left: %v", err)
	}
	if _, err := kassa(t, "refunds", "create", "--db", dbURL, "--payment", "pay_nope", "--sandbox=false"); err == nil {
		t.Fatal("refunding an unknown payment succeeded")
	}
	out, err = kassa(t, "refunds", "list", "--db", dbURL, "--payment", id)
	var list []map[string]any
	if err != nil || json.Unmarshal([]byte(out), &list) != nil || len(list) != 1 || list[0]["id"] != r["id"] {
		t.Fatalf("refunds list: %v %s", err, out)
	}
	if _, err := kassa(t, "refunds", "list", "--db", dbURL); err == nil {
		t.Fatal("refunds list without --payment succeeded")
	}
}
