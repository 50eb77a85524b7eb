package db

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/kassa-pay/kassa/checkout"
)

var _ checkout.DemoStore = (*DB)(nil)

// RecordDemoOrder implements checkout.DemoStore.
func (db *DB) RecordDemoOrder(ctx context.Context, reference, paymentID string, at time.Time) error {
	_, err := db.exec(ctx, `INSERT INTO demo_orders (reference, payment_id, created_at) VALUES (?, ?, ?)`, reference, paymentID, ms(at))
	return err
}

// FindDemoOrder implements checkout.DemoStore.
func (db *DB) FindDemoOrder(ctx context.Context, reference string) (string, error) {
	var id string
	err := db.read.QueryRowContext(ctx, `SELECT payment_id FROM demo_orders WHERE reference = ?`, reference).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", checkout.ErrNotFound
	}
	return id, err
}

// RecordDemoWebhook implements checkout.DemoStore.
func (db *DB) RecordDemoWebhook(ctx context.Context, w checkout.DemoWebhook) error {
	verified := 0
	if w.Verified {
		verified = 1
	}
	_, err := db.exec(ctx, `INSERT INTO demo_webhooks (webhook_id, payment_id, type, verified, error, received_at)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (webhook_id) DO NOTHING`, w.WebhookID, w.PaymentID, w.Type, verified, w.Error, ms(w.ReceivedAt))
	return err
}

// DemoWebhooks implements checkout.DemoStore.
func (db *DB) DemoWebhooks(ctx context.Context, paymentID string) ([]checkout.DemoWebhook, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT webhook_id, payment_id, type, verified, error, received_at FROM demo_webhooks
		WHERE payment_id = ? ORDER BY received_at, webhook_id`, paymentID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []checkout.DemoWebhook
	for rows.Next() {
		var w checkout.DemoWebhook
		var verified int
		var at int64
		if err := rows.Scan(&w.WebhookID, &w.PaymentID, &w.Type, &verified, &w.Error, &at); err != nil {
			return nil, err
		}
		w.Verified, w.ReceivedAt = verified == 1, fromMS(at)
		out = append(out, w)
	}
	return out, rows.Err()
}
