package db

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/kassa-pay/kassa/checkout"
)

var _ checkout.LinkStore = (*DB)(nil)

const linkColumns = `id, client_id, name, description, currency, amount, line_items, adjustable, quantity_min, quantity_max,
	max_payments, expires_at, success_url, metadata, active, created_at, updated_at`

// CreateLink implements checkout.LinkStore.
func (db *DB) CreateLink(ctx context.Context, l *checkout.Link) error {
	lines, err := json.Marshal(lineItems(l.LineItems))
	if err != nil {
		return err
	}
	meta, _ := json.Marshal(l.Metadata)
	_, err = db.exec(ctx, `INSERT INTO payment_links (`+linkColumns+`) VALUES (`+placeholders(17)+`)`,
		l.ID, l.ClientID, l.Name, l.Description, l.Currency, l.UnitAmount, string(lines), boolInt(l.Adjustable),
		l.QuantityMin, l.QuantityMax, nullPositive(l.MaxPayments), nullMS(l.ExpiresAt), l.SuccessURL, string(meta),
		boolInt(l.Active), ms(l.CreatedAt), ms(l.UpdatedAt))
	if err != nil {
		return fmt.Errorf("db: insert payment link: %w", err)
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func nullPositive(n int64) sql.NullInt64 { return sql.NullInt64{Int64: n, Valid: n > 0} }

func scanLink(row interface{ Scan(...any) error }) (*checkout.Link, error) {
	var l checkout.Link
	var lines, meta string
	var adjustable, active int
	var maxPayments, expires sql.NullInt64
	var created, updated int64
	err := row.Scan(&l.ID, &l.ClientID, &l.Name, &l.Description, &l.Currency, &l.UnitAmount, &lines, &adjustable,
		&l.QuantityMin, &l.QuantityMax, &maxPayments, &expires, &l.SuccessURL, &meta, &active, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, checkout.ErrNotFound
	} else if err != nil {
		return nil, err
	}
	if l.LineItems, err = decodeLineItems(lines); err != nil {
		return nil, fmt.Errorf("db: payment link %s line items: %w", l.ID, err)
	}
	if err := json.Unmarshal([]byte(meta), &l.Metadata); err != nil {
		return nil, fmt.Errorf("db: payment link %s metadata: %w", l.ID, err)
	}
	l.Adjustable, l.Active = adjustable == 1, active == 1
	l.MaxPayments = maxPayments.Int64
	l.ExpiresAt, l.CreatedAt, l.UpdatedAt = fromNullMS(expires), fromMS(created), fromMS(updated)
	return &l, nil
}

// FindLink implements checkout.LinkStore.
func (db *DB) FindLink(ctx context.Context, id string) (*checkout.Link, error) {
	l, err := scanLink(db.read.QueryRowContext(ctx, `SELECT `+linkColumns+` FROM payment_links WHERE id = ?`, id))
	if err != nil {
		return nil, err
	}
	if err := db.countLinks(ctx, []*checkout.Link{l}); err != nil {
		return nil, err
	}
	return l, nil
}

// ListLinks implements checkout.LinkStore.
func (db *DB) ListLinks(ctx context.Context, clientID string, limit int) ([]checkout.Link, error) {
	q, args := `SELECT `+linkColumns+` FROM payment_links`, []any{}
	if clientID != "" {
		q, args = q+` WHERE client_id = ?`, append(args, clientID)
	}
	rows, err := db.read.QueryContext(ctx, q+` ORDER BY created_at DESC, id DESC LIMIT ?`, append(args, limit)...)
	out, err := collect(rows, err, scanLink)
	if err != nil {
		return nil, err
	}
	ptrs := make([]*checkout.Link, len(out))
	for i := range out {
		ptrs[i] = &out[i]
	}
	return out, db.countLinks(ctx, ptrs)
}

// paidStatuses are the statuses of a payment that was paid: refunds do not undo having been
// paid, for a link's counters or for its limit.
var paidStatuses = []any{string(checkout.PaymentPaid), string(checkout.PaymentRefunded), string(checkout.PaymentPartiallyRefunded)}

// liveAttemptSQL is true for a payment with an attempt that may still collect money (it holds
// its live slot, see migration 0004): such a payment holds its link's place even past its
// expiry, since the provider may still report it paid.
const liveAttemptSQL = `EXISTS (SELECT 1 FROM attempts WHERE attempts.payment_id = payments.id AND attempts.live_key IS NOT NULL)`

// countLinks fills the links' counters with one grouped query over their payments.
func (db *DB) countLinks(ctx context.Context, links []*checkout.Link) error {
	if len(links) == 0 {
		return nil
	}
	byID := map[string]*checkout.Link{}
	args := append([]any{}, paidStatuses...)
	args = append(args, string(checkout.PaymentOpen), ms(db.now()))
	args = append(args, paidStatuses...)
	for _, l := range links {
		byID[l.ID] = l
		l.Counts = checkout.LinkCounts{}
		args = append(args, l.ID)
	}
	rows, err := db.read.QueryContext(ctx, `SELECT link_id, currency, COUNT(*),
		SUM(CASE WHEN status IN (`+placeholders(len(paidStatuses))+`) OR (status = ? AND expires_at > ?) OR `+liveAttemptSQL+` THEN 1 ELSE 0 END),
		SUM(CASE WHEN status IN (`+placeholders(len(paidStatuses))+`) THEN 1 ELSE 0 END),
		SUM(CASE WHEN paid_at IS NOT NULL THEN amount ELSE 0 END)
		FROM payments WHERE link_id IN (`+placeholders(len(links))+`) GROUP BY link_id, currency ORDER BY link_id, currency`, args...)
	if err != nil {
		return fmt.Errorf("db: count link payments: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, cur string
		var created, held, paid, collected int64
		if err := rows.Scan(&id, &cur, &created, &held, &paid, &collected); err != nil {
			return err
		}
		l := byID[id]
		l.Counts.Created += created
		l.Counts.Held += held
		l.Counts.Paid += paid
		if paid > 0 {
			l.Counts.Collected = append(l.Counts.Collected, checkout.Money{Amount: collected, Currency: cur})
		}
	}
	return rows.Err()
}

// UpdateLink implements checkout.LinkStore.
func (db *DB) UpdateLink(ctx context.Context, l *checkout.Link) error {
	meta, _ := json.Marshal(l.Metadata)
	res, err := db.exec(ctx, `UPDATE payment_links SET name = ?, description = ?, active = ?, max_payments = ?, expires_at = ?,
		success_url = ?, metadata = ?, updated_at = ? WHERE id = ?`,
		l.Name, l.Description, boolInt(l.Active), nullPositive(l.MaxPayments), nullMS(l.ExpiresAt), l.SuccessURL,
		string(meta), ms(l.UpdatedAt), l.ID)
	if err = affectedOne(res, err); errors.Is(err, checkout.ErrConflict) {
		return checkout.ErrNotFound
	}
	return err
}

// CreateLinkPayment implements checkout.LinkStore. The first statement updates the link's row
// only if the link is open, which takes that row's lock until commit (SQLite's single writer
// serialises anyway; PostgreSQL makes a second transaction on the same link wait, and its next
// statement then sees the first one's payment). The payment is inserted and the places held
// are counted after it, in the same transaction: more than maxPayments rolls everything back.
// Reading the count in one transaction and inserting in another would let two shoppers both
// see one place left.
func (db *DB) CreateLinkPayment(ctx context.Context, p *checkout.Payment, ev checkout.Event, maxPayments int64, now time.Time) error {
	lines, err := json.Marshal(lineItems(p.LineItems))
	if err != nil {
		return err
	}
	customer, _ := json.Marshal(p.Customer)
	meta, _ := json.Marshal(p.Metadata)
	return db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE payment_links SET updated_at = updated_at
			WHERE id = ? AND active = 1 AND (expires_at IS NULL OR expires_at > ?)`, p.LinkID, ms(now))
		if err := affectedOne(res, err); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO payments (id, client_id, amount, currency, reference, reference_label, line_items,
			success_url, cancel_url, customer, metadata, status, expires_at, paid_at, created_at, updated_at, link_id)
			VALUES (`+placeholders(17)+`)`,
			p.ID, p.ClientID, p.Amount, p.Currency, p.Reference, p.ReferenceLabel, string(lines), p.SuccessURL,
			p.CancelURL, string(customer), string(meta), string(p.Status), ms(p.ExpiresAt), nullMS(p.PaidAt), ms(p.CreatedAt),
			ms(p.UpdatedAt), p.LinkID)
		if err != nil {
			return fmt.Errorf("db: insert link payment: %w", err)
		}
		if maxPayments > 0 {
			// Counted after the insert, under the link's lock: over the limit rolls it back.
			args := append([]any{p.LinkID}, paidStatuses...)
			args = append(args, string(checkout.PaymentOpen), ms(now))
			var held int64
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM payments WHERE link_id = ?
				AND (status IN (`+placeholders(len(paidStatuses))+`) OR (status = ? AND expires_at > ?) OR `+liveAttemptSQL+`)`, args...).Scan(&held); err != nil {
				return err
			}
			if held > maxPayments {
				return checkout.ErrConflict
			}
		}
		return insertEvent(ctx, tx, ev)
	})
}

// LinkPayments returns the newest payments created from link id, for the link's page.
func (db *DB) LinkPayments(ctx context.Context, id string, limit int) ([]checkout.Payment, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+paymentColumns+` FROM payments WHERE link_id = ?
		ORDER BY created_at DESC, id DESC LIMIT ?`, id, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []checkout.Payment
	for rows.Next() {
		p, err := scanPayment(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *p)
	}
	return out, rows.Err()
}
