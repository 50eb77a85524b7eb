package main

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kassa-pay/kassa/checkout"
	"github.com/kassa-pay/kassa/db"
	"github.com/kassa-pay/kassa/webhooks"
)

// failingSender answers every webhook with a 500.
type failingSender struct{}

func (failingSender) Send(context.Context, webhooks.Message) webhooks.Result {
	return webhooks.Result{Status: 500, Err: errors.New("HTTP 500")}
}

func TestCLIWebhookURLGuard(t *testing.T) {
	dbURL := "sqlite:" + filepath.Join(t.TempDir(), "k.db")
	if _, err := kassa(t, "apps", "create", "--db", dbURL, "--name", "Local", "--webhook-url", "http://127.0.0.1:9/hook"); err == nil ||
		!strings.Contains(err.Error(), "loopback") {
		t.Fatalf("loopback webhook URL accepted by apps create: %v", err)
	}
	t.Setenv("KASSA_WEBHOOK_ALLOW_PRIVATE", "true")
	if _, err := kassa(t, "apps", "create", "--db", dbURL, "--name", "Local", "--webhook-url", "http://127.0.0.1:9/hook"); err != nil {
		t.Fatalf("with KASSA_WEBHOOK_ALLOW_PRIVATE: %v", err)
	}
}

func TestCLIWebhooksListAndRedeliver(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.db")
	dbURL := "sqlite:" + path
	ctx := context.Background()
	d, err := db.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	svc := &checkout.Service{Store: d, URLs: checkout.URLs{Base: "https://kassa.test"}}
	app, err := svc.NewApp(ctx, "Shop", "https://shop.example/hook")
	if err != nil {
		t.Fatal(err)
	}
	p, _ := svc.CreatePayment(ctx, checkout.NewPayment{ClientID: app.ClientID, Amount: 100, Currency: "USD", Reference: "R"})
	if _, err := svc.CancelPayment(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithCancel(ctx)
	w := &checkout.WebhookWorker{Service: svc, Sender: failingSender{}, Schedule: []time.Duration{}, Poll: 10 * time.Millisecond}
	done := make(chan struct{})
	go func() { w.Run(wctx); close(done) }()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if ds, _ := svc.WebhookDeliveries(ctx, p.ID); len(ds) == 1 && ds[0].Status == checkout.DeliveryFailed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the delivery did not fail")
		}
	}
	cancel()
	<-done

	var listed []map[string]any
	out, err := kassa(t, "webhooks", "list", "--failed", "--db", dbURL)
	if err := errors.Join(err, json.Unmarshal([]byte(out), &listed)); err != nil || len(listed) != 1 || listed[0]["type"] != "payment.cancelled" {
		t.Fatalf("webhooks list --failed: %v %s", err, out)
	}
	id := listed[0]["id"].(string)
	out, err = kassa(t, "webhooks", "redeliver", id, "--db", dbURL)
	var one map[string]any
	if err := errors.Join(err, json.Unmarshal([]byte(out), &one)); err != nil || one["id"] != id || one["status"] != "pending" {
		t.Fatalf("webhooks redeliver ID: %v %s", err, out)
	}
	if out, _ := kassa(t, "webhooks", "list", "--failed", "--db", dbURL); strings.TrimSpace(out) != "[]" {
		t.Fatalf("still failed after redeliver: %s", out)
	}
	// Fail it again, then redeliver every failed one since an hour ago.
	wctx, cancel = context.WithCancel(ctx)
	done = make(chan struct{})
	go func() { w.Run(wctx); close(done) }()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if ds, _ := svc.WebhookDeliveries(ctx, p.ID); ds[0].Status == checkout.DeliveryFailed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the delivery did not fail again")
		}
	}
	cancel()
	<-done
	out, err = kassa(t, "webhooks", "redeliver", "--all-failed", "--since", "1h", "--db", dbURL)
	if err := errors.Join(err, json.Unmarshal([]byte(out), &listed)); err != nil || len(listed) != 1 || listed[0]["status"] != "pending" {
		t.Fatalf("webhooks redeliver --all-failed: %v %s", err, out)
	}
	if _, err := kassa(t, "webhooks", "redeliver", "--db", dbURL); err == nil {
		t.Fatal("redeliver without an id or --all-failed must fail")
	}
	if _, err := kassa(t, "webhooks", "redeliver", "msg_nope", "--db", dbURL); err == nil {
		t.Fatal("redeliver of an unknown id must fail")
	}
}
