package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kassa-pay/kassa/checkout"
)

// The webhook outbox: webhook_deliveries holds one row per announced event, written by
// insertEvent in the event's transaction; webhook_attempts logs every try.

// queueWebhook inserts the delivery announcing ev, when ev is of a type merchants hear about
// and the payment's application has an enabled webhook URL at this moment. An application
// without a URL has chosen to poll: queueing for it would pile up rows no one receives and
// replay stale events in a burst the day a URL is set.
func queueWebhook(ctx context.Context, tx *sql.Tx, seq int64, ev checkout.Event) error {
	typ, ok := checkout.WebhookType(ev.Type)
	if !ok || ev.PaymentID == "" {
		return nil
	}
	var clientID, url string
	var disabled sql.NullInt64
	err := tx.QueryRowContext(ctx, `SELECT a.client_id, a.webhook_url, a.webhook_disabled_at FROM payments p
		JOIN apps a ON a.client_id = p.client_id WHERE p.id = ?`, ev.PaymentID).Scan(&clientID, &url, &disabled)
	if err != nil {
		return fmt.Errorf("db: webhook for event %d: %w", seq, err)
	}
	if url == "" || disabled.Valid {
		return nil
	}
	at := ms(ev.CreatedAt)
	_, err = tx.ExecContext(ctx, `INSERT INTO webhook_deliveries (id, client_id, payment_id, event_seq, type, event_at, status,
		next_attempt_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		checkout.NewWebhookID(), clientID, ev.PaymentID, seq, typ, at, string(checkout.DeliveryPending), at, at, at)
	if err != nil {
		return fmt.Errorf("db: queue webhook for event %d: %w", seq, err)
	}
	return nil
}

const deliveryColumns = `id, client_id, payment_id, event_seq, type, event_at, status, body, tries, next_attempt_at,
	lease_until, lease_owner, last_error, delivered_at, created_at, updated_at`

func scanDelivery(row interface{ Scan(...any) error }) (*checkout.Delivery, error) {
	var d checkout.Delivery
	var status string
	var body sql.NullString
	var eventAt, created, updated int64
	var next, lease, delivered sql.NullInt64
	err := row.Scan(&d.ID, &d.ClientID, &d.PaymentID, &d.EventSeq, &d.Type, &eventAt, &status, &body, &d.Tries, &next,
		&lease, &d.LeaseOwner, &d.LastError, &delivered, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, checkout.ErrNotFound
	} else if err != nil {
		return nil, err
	}
	d.Status = checkout.DeliveryStatus(status)
	if body.Valid {
		d.Body = []byte(body.String)
	}
	d.EventAt, d.CreatedAt, d.UpdatedAt = fromMS(eventAt), fromMS(created), fromMS(updated)
	d.NextAttemptAt, d.LeaseUntil, d.DeliveredAt = fromNullMS(next), fromNullMS(lease), fromNullMS(delivered)
	return &d, nil
}

func (db *DB) queryDeliveries(ctx context.Context, where string, args ...any) ([]checkout.Delivery, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+deliveryColumns+` FROM webhook_deliveries `+where, args...)
	return collect(rows, err, scanDelivery)
}

// DueDeliveries implements checkout.WebhookStore.
func (db *DB) DueDeliveries(ctx context.Context, now time.Time, skip []string, limit int) ([]checkout.Delivery, error) {
	where := `WHERE status = ? AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until < ?)`
	args := []any{string(checkout.DeliveryPending), ms(now), ms(now)}
	if len(skip) > 0 {
		where += ` AND client_id NOT IN (` + placeholders(len(skip)) + `)`
		for _, c := range skip {
			args = append(args, c)
		}
	}
	return db.queryDeliveries(ctx, where+` ORDER BY next_attempt_at LIMIT ?`, append(args, limit)...)
}

// claimDelivery is the claim: one conditional update per delivery, so of several workers (in
// several processes) exactly one wins a due delivery.
const claimDelivery = `UPDATE webhook_deliveries SET lease_until = ?, lease_owner = ?, body = COALESCE(body, ?)
	WHERE id = ? AND status = ? AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until < ?)`

func claimArgs(id, owner string, now, until time.Time, body []byte) []any {
	var b sql.NullString
	if len(body) > 0 {
		b = sql.NullString{String: string(body), Valid: true}
	}
	return []any{ms(until), owner, b, id, string(checkout.DeliveryPending), ms(now), ms(now)}
}

// ClaimDelivery implements checkout.WebhookStore.
func (db *DB) ClaimDelivery(ctx context.Context, id, owner string, now, until time.Time, body []byte) (bool, error) {
	res, err := db.exec(ctx, claimDelivery, claimArgs(id, owner, now, until, body)...)
	if err := affectedOne(res, err); errors.Is(err, checkout.ErrConflict) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	return true, nil
}

// ClaimDeliveries implements checkout.WebhookStore: the same claims, one transaction. They are
// made in id order, so that on PostgreSQL two processes claiming overlapping batches take
// their row locks in the same order and cannot deadlock.
func (db *DB) ClaimDeliveries(ctx context.Context, ds []checkout.Delivery, owner string, now, until time.Time) (map[string]bool, error) {
	ds = slices.Clone(ds)
	slices.SortFunc(ds, func(a, b checkout.Delivery) int { return strings.Compare(a.ID, b.ID) })
	won := map[string]bool{}
	err := db.tx(ctx, func(tx *sql.Tx) error {
		for _, d := range ds {
			res, err := tx.ExecContext(ctx, claimDelivery, claimArgs(d.ID, owner, now, until, d.Body)...)
			if err := affectedOne(res, err); err == nil {
				won[d.ID] = true
			} else if !errors.Is(err, checkout.ErrConflict) {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return won, nil
}

// FindDelivery implements checkout.WebhookStore.
func (db *DB) FindDelivery(ctx context.Context, id string) (*checkout.Delivery, error) {
	d, err := scanDelivery(db.read.QueryRowContext(ctx, `SELECT `+deliveryColumns+` FROM webhook_deliveries WHERE id = ?`, id))
	if err != nil {
		return nil, err
	}
	byID, err := db.deliveryAttempts(ctx, `WHERE delivery_id = ?`, id)
	d.Attempts = byID[id]
	return d, err
}

// deliveryAttempts loads attempts, oldest first, grouped by delivery.
func (db *DB) deliveryAttempts(ctx context.Context, where string, args ...any) (map[string][]checkout.DeliveryAttempt, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT delivery_id, at, url, http_status, error, duration_ms, response
		FROM webhook_attempts `+where+` ORDER BY at, id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string][]checkout.DeliveryAttempt{}
	for rows.Next() {
		var id string
		var a checkout.DeliveryAttempt
		var at, dur int64
		if err := rows.Scan(&id, &at, &a.URL, &a.HTTPStatus, &a.Error, &dur, &a.Response); err != nil {
			return nil, err
		}
		a.At, a.Duration = fromMS(at), time.Duration(dur)*time.Millisecond
		out[id] = append(out[id], a)
	}
	return out, rows.Err()
}

// SetDeliveryBody implements checkout.WebhookStore; a body once set is never replaced.
func (db *DB) SetDeliveryBody(ctx context.Context, id string, body []byte) error {
	_, err := db.exec(ctx, `UPDATE webhook_deliveries SET body = ? WHERE id = ? AND body IS NULL`, string(body), id)
	return err
}

// FinishDelivery records one outcome; see FinishDeliveries.
func (db *DB) FinishDelivery(ctx context.Context, o checkout.DeliveryOutcome) error {
	return db.FinishDeliveries(ctx, []checkout.DeliveryOutcome{o})
}

// FinishDeliveries implements checkout.WebhookStore. An attempt is logged even when its lease
// was lost meanwhile (it did happen); a delivery's state only moves for the lease holder.
func (db *DB) FinishDeliveries(ctx context.Context, os []checkout.DeliveryOutcome) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		for _, o := range os {
			if a := o.Attempt; a != nil {
				if _, err := tx.ExecContext(ctx, `INSERT INTO webhook_attempts (delivery_id, at, url, http_status, error, duration_ms, response)
					VALUES (?, ?, ?, ?, ?, ?, ?)`, o.ID, ms(a.At), a.URL, a.HTTPStatus, a.Error, a.Duration.Milliseconds(),
					strings.ToValidUTF8(a.Response, "\uFFFD")); err != nil {
					return fmt.Errorf("db: log webhook attempt: %w", err)
				}
			}
			var delivered sql.NullInt64
			if o.Status == checkout.DeliveryDelivered {
				delivered = nullMS(o.At)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET status = ?, tries = ?, next_attempt_at = ?, last_error = ?,
				delivered_at = COALESCE(?, delivered_at), lease_until = NULL, lease_owner = '', updated_at = ?
				WHERE id = ? AND lease_owner = ?`,
				string(o.Status), o.Tries, nullMS(o.NextAttemptAt), o.LastError, delivered, ms(o.At), o.ID, o.Owner); err != nil {
				return err
			}
		}
		return nil
	})
}

// Deliveries implements checkout.WebhookStore.
func (db *DB) Deliveries(ctx context.Context, paymentID string) ([]checkout.Delivery, error) {
	ds, err := db.queryDeliveries(ctx, `WHERE payment_id = ? ORDER BY created_at, event_seq`, paymentID)
	if err != nil || len(ds) == 0 {
		return ds, err
	}
	attempts, err := db.deliveryAttempts(ctx, `WHERE delivery_id IN (SELECT id FROM webhook_deliveries WHERE payment_id = ?)`, paymentID)
	for i := range ds {
		ds[i].Attempts = attempts[ds[i].ID]
	}
	return ds, err
}

// ListDeliveries implements checkout.WebhookStore; attempts are not loaded.
func (db *DB) ListDeliveries(ctx context.Context, f checkout.DeliveryFilter) ([]checkout.Delivery, error) {
	var where []string
	var args []any
	if f.ClientID != "" {
		where, args = append(where, "client_id = ?"), append(args, f.ClientID)
	}
	if f.Status != "" {
		where, args = append(where, "status = ?"), append(args, string(f.Status))
	}
	if !f.Since.IsZero() {
		where, args = append(where, "created_at >= ?"), append(args, ms(f.Since))
	}
	cond := ""
	if len(where) > 0 {
		cond = "WHERE " + strings.Join(where, " AND ")
	}
	if f.Limit <= 0 {
		f.Limit = 1000
	}
	return db.queryDeliveries(ctx, cond+` ORDER BY created_at DESC, event_seq DESC LIMIT ?`, append(args, f.Limit)...)
}

// Redeliver implements checkout.WebhookStore.
func (db *DB) Redeliver(ctx context.Context, id string, at time.Time) error {
	res, err := db.exec(ctx, `UPDATE webhook_deliveries SET status = ?, tries = 0, next_attempt_at = ?, last_error = '', updated_at = ?
		WHERE id = ?`, string(checkout.DeliveryPending), ms(at), ms(at), id)
	if err = affectedOne(res, err); errors.Is(err, checkout.ErrConflict) {
		return checkout.ErrNotFound
	}
	return err
}

// PruneDeliveries implements checkout.WebhookStore; their attempts go with them.
func (db *DB) PruneDeliveries(ctx context.Context, before time.Time, limit int) (int, error) {
	res, err := db.exec(ctx, `DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries
		WHERE status = ? AND delivered_at < ? LIMIT ?)`, string(checkout.DeliveryDelivered), ms(before), limit)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// DisableWebhook implements checkout.WebhookStore.
func (db *DB) DisableWebhook(ctx context.Context, clientID, url, reason string, at time.Time) error {
	_, err := db.exec(ctx, `UPDATE apps SET webhook_disabled_at = ?, webhook_disabled_reason = ?
		WHERE client_id = ? AND webhook_url = ? AND webhook_disabled_at IS NULL`, ms(at), reason, clientID, url)
	return err
}

// EnableWebhook implements checkout.WebhookStore.
func (db *DB) EnableWebhook(ctx context.Context, clientID string) error {
	_, err := db.exec(ctx, `UPDATE apps SET webhook_disabled_at = NULL, webhook_disabled_reason = '' WHERE client_id = ?`, clientID)
	return err
}

// WebhookBacklog counts deliveries waiting to be sent and the oldest one's due time (zero
// when none), for the metrics of the delivery backlog.
func (db *DB) WebhookBacklog(ctx context.Context) (int, time.Time, error) {
	var n int
	var oldest sql.NullInt64
	err := db.read.QueryRowContext(ctx, `SELECT COUNT(*), MIN(next_attempt_at) FROM webhook_deliveries WHERE status = ?`,
		string(checkout.DeliveryPending)).Scan(&n, &oldest)
	return n, fromNullMS(oldest), err
}
