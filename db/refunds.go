package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/kassa-pay/kassa/checkout"
	"github.com/kassa-pay/kassa/providers"
)

const refundColumns = `id, payment_id, attempt_id, provider, amount, currency, reason, note, status, provider_ref, error,
	requested_by, checks, next_check_at, succeeded_at, created_at, updated_at`

type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func scanRefund(row interface{ Scan(...any) error }) (*checkout.Refund, error) {
	var r checkout.Refund
	var provider, reason, status string
	var next, succeeded sql.NullInt64
	var created, updated int64
	err := row.Scan(&r.ID, &r.PaymentID, &r.AttemptID, &provider, &r.Amount, &r.Currency, &reason, &r.Note, &status,
		&r.ProviderRef, &r.Error, &r.RequestedBy, &r.Checks, &next, &succeeded, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, checkout.ErrNotFound
	} else if err != nil {
		return nil, err
	}
	r.Provider, r.Reason, r.Status = providers.ID(provider), checkout.RefundReason(reason), checkout.RefundStatus(status)
	r.NextCheckAt, r.SucceededAt = fromNullMS(next), fromNullMS(succeeded)
	r.CreatedAt, r.UpdatedAt = fromMS(created), fromMS(updated)
	return &r, nil
}

func queryRefunds(ctx context.Context, q queryer, where string, args ...any) ([]checkout.Refund, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+refundColumns+` FROM refunds `+where, args...)
	return collect(rows, err, scanRefund)
}

// paymentRefunds loads a payment's refunds, oldest first.
func paymentRefunds(ctx context.Context, q queryer, paymentID string) ([]checkout.Refund, error) {
	return queryRefunds(ctx, q, `WHERE payment_id = ? ORDER BY created_at, id`, paymentID)
}

// loadRefunds fills the refunds of a page of payments with one query.
func (db *DB) loadRefunds(ctx context.Context, ps []checkout.Payment) error {
	if len(ps) == 0 {
		return nil
	}
	args := make([]any, len(ps))
	at := make(map[string]int, len(ps))
	for i, p := range ps {
		args[i], at[p.ID] = p.ID, i
	}
	rs, err := queryRefunds(ctx, db.read, `WHERE payment_id IN (`+placeholders(len(ps))+`) ORDER BY created_at, id`, args...)
	if err != nil {
		return err
	}
	for _, r := range rs {
		p := &ps[at[r.PaymentID]]
		p.Refunds = append(p.Refunds, r)
	}
	return nil
}

// FindRefund implements checkout.RefundStore.
func (db *DB) FindRefund(ctx context.Context, id string) (*checkout.Refund, error) {
	return scanRefund(db.read.QueryRowContext(ctx, `SELECT `+refundColumns+` FROM refunds WHERE id = ?`, id))
}

// LockRefunds implements checkout.RefundStore: the payment row is read (locked, on PostgreSQL)
// with its attempts and refunds inside the write transaction, plan decides, and its change is
// written before the transaction commits.
func (db *DB) LockRefunds(ctx context.Context, paymentID string, plan func(p *checkout.Payment) (checkout.RefundChange, error)) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		p, err := scanPayment(tx.QueryRowContext(ctx, db.dialect.lockPayment, paymentID))
		if err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT `+attemptColumns+` FROM attempts WHERE payment_id = ? ORDER BY created_at DESC, id DESC`, paymentID)
		if p.Attempts, err = collect(rows, err, scanAttempt); err != nil {
			return err
		}
		if p.Refunds, err = paymentRefunds(ctx, tx, paymentID); err != nil {
			return err
		}
		c, err := plan(p)
		if err != nil {
			return err
		}
		return applyRefundChange(ctx, tx, c)
	})
}

func applyRefundChange(ctx context.Context, tx *sql.Tx, c checkout.RefundChange) error {
	if r := c.Insert; r != nil {
		var owner sql.NullString
		if c.LeaseOwner != "" {
			owner = sql.NullString{String: c.LeaseOwner, Valid: true}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO refunds (`+refundColumns+`, lease_owner, lease_until)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.ID, r.PaymentID, r.AttemptID, string(r.Provider), r.Amount, r.Currency, string(r.Reason), r.Note, string(r.Status),
			r.ProviderRef, r.Error, r.RequestedBy, r.Checks, nullMS(r.NextCheckAt), nullMS(r.SucceededAt), ms(r.CreatedAt),
			ms(r.UpdatedAt), owner, nullMS(c.LeaseUntil))
		if err != nil {
			return fmt.Errorf("db: insert refund: %w", err)
		}
	}
	if u := c.Update; u != nil {
		args := []any{string(u.To), u.ProviderRef, u.Error, u.Checks, nullMS(u.NextCheckAt), nullMS(u.SucceededAt), ms(u.At), u.ID}
		for _, f := range u.From {
			args = append(args, string(f))
		}
		// A refund that is no longer pending has no next check; either way the lease is
		// released, the caller's work on the refund being done.
		res, err := tx.ExecContext(ctx, `UPDATE refunds SET status = ?,
			provider_ref = COALESCE(NULLIF(?, ''), provider_ref),
			error = ?,
			checks = ?,
			next_check_at = ?,
			succeeded_at = COALESCE(?, succeeded_at),
			lease_owner = NULL, lease_until = NULL,
			updated_at = ?
			WHERE id = ? AND status IN (`+placeholders(len(u.From))+`)`, args...)
		if err := affectedOne(res, err); err != nil {
			return err
		}
	}
	if pc := c.Payment; pc != nil {
		args := []any{string(pc.To), ms(pc.At), pc.ID}
		for _, f := range pc.From {
			args = append(args, string(f))
		}
		res, err := tx.ExecContext(ctx, `UPDATE payments SET status = ?, updated_at = ? WHERE id = ? AND status IN (`+
			placeholders(len(pc.From))+`)`, args...)
		if err := affectedOne(res, err); err != nil {
			return err
		}
	}
	for _, ev := range c.Events {
		if err := insertEvent(ctx, tx, ev); err != nil {
			return fmt.Errorf("db: insert event: %w", err)
		}
	}
	return nil
}

// DueRefunds implements checkout.RefundStore.
func (db *DB) DueRefunds(ctx context.Context, now time.Time, limit int) ([]checkout.Refund, error) {
	return queryRefunds(ctx, db.read, `WHERE status = ? AND next_check_at <= ? AND (lease_until IS NULL OR lease_until < ?)
		ORDER BY next_check_at LIMIT ?`, string(checkout.RefundPending), ms(now), ms(now), limit)
}

// ClaimRefund implements checkout.RefundStore with a lease column, so that several instances
// polling one database never ask about the same refund at once, and a crashed holder's lease
// simply runs out. The claim also requires the refund to be due still: an instance whose
// listing is older than another's finished check must not ask the provider again at once.
func (db *DB) ClaimRefund(ctx context.Context, id, owner string, now, until time.Time) (bool, error) {
	res, err := db.exec(ctx, `UPDATE refunds SET lease_owner = ?, lease_until = ?
		WHERE id = ? AND status = ? AND next_check_at <= ? AND (lease_until IS NULL OR lease_until < ?)`,
		owner, ms(until), id, string(checkout.RefundPending), ms(now), ms(now))
	if err = affectedOne(res, err); errors.Is(err, checkout.ErrConflict) {
		return false, nil
	}
	return err == nil, err
}
