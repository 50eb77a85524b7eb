package db

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kassa-pay/kassa/checkout"
	"github.com/kassa-pay/kassa/metrics"
	"github.com/kassa-pay/kassa/providers"
)

var _ checkout.Store = (*DB)(nil)

// lockWriter waits for the writer connection, in arrival order (blocked channel senders are
// woken first in, first out).
func (db *DB) lockWriter(ctx context.Context) error {
	if db.writer == nil {
		return nil // PostgreSQL: no gate
	}
	select {
	case db.writer <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (db *DB) unlockWriter() {
	if db.writer != nil {
		<-db.writer
	}
}

// exec runs one write statement outside a transaction, through the same gate as tx.
func (db *DB) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if err := db.lockWriter(ctx); err != nil {
		return nil, err
	}
	defer db.unlockWriter()
	return db.write.ExecContext(ctx, query, args...)
}

// tx runs fn in a write transaction, committing when fn returns nil.
func (db *DB) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	if err := db.lockWriter(ctx); err != nil {
		return err
	}
	defer db.unlockWriter()
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

func insertEvent(ctx context.Context, tx *sql.Tx, ev checkout.Event) error {
	data, err := json.Marshal(ev.Data)
	if err != nil {
		return err
	}
	if ev.Data == nil {
		data = []byte("{}")
	}
	var seq int64
	err = tx.QueryRowContext(ctx, `INSERT INTO events (payment_id, attempt_id, type, data, created_at) VALUES (?, ?, ?, ?, ?) RETURNING seq`,
		ev.PaymentID, ev.AttemptID, ev.Type, string(data), ms(ev.CreatedAt)).Scan(&seq)
	if err != nil {
		return err
	}
	// Counted when written: the transaction may still fail to commit, which a status move
	// (its conditional update runs before its events) practically never does.
	metrics.EventWritten(ev.Type)
	// The outbox: an event merchants hear about is queued for delivery in its own transaction.
	return queueWebhook(ctx, tx, seq, ev)
}

// CreatePayment implements checkout.Store.
func (db *DB) CreatePayment(ctx context.Context, p *checkout.Payment, ev checkout.Event) error {
	lines, err := json.Marshal(lineItems(p.LineItems))
	if err != nil {
		return err
	}
	customer, _ := json.Marshal(p.Customer)
	meta, _ := json.Marshal(p.Metadata)
	return db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO payments (id, client_id, amount, currency, reference, reference_label,
			line_items, success_url, cancel_url, customer, metadata, status, expires_at, paid_at, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			p.ID, p.ClientID, p.Amount, p.Currency, p.Reference, p.ReferenceLabel, string(lines), p.SuccessURL, p.CancelURL,
			string(customer), string(meta), string(p.Status), ms(p.ExpiresAt), nullMS(p.PaidAt), ms(p.CreatedAt), ms(p.UpdatedAt))
		if err != nil {
			return fmt.Errorf("db: insert payment: %w", err)
		}
		return insertEvent(ctx, tx, ev)
	})
}

// lineItem is the stored JSON shape of a checkout.LineItem.
type lineItem struct {
	Name       string `json:"name"`
	Quantity   int64  `json:"quantity"`
	UnitAmount int64  `json:"unitAmount"`
}

func lineItems(in []checkout.LineItem) []lineItem {
	out := make([]lineItem, len(in))
	for i, li := range in {
		out[i] = lineItem(li)
	}
	return out
}

const paymentColumns = `id, client_id, amount, currency, reference, reference_label, line_items, success_url, cancel_url,
	customer, metadata, status, expires_at, paid_at, created_at, updated_at, link_id`

func scanPayment(row interface{ Scan(...any) error }) (*checkout.Payment, error) {
	var p checkout.Payment
	var lines, customer, meta, status string
	var expires, created, updated int64
	var paid sql.NullInt64
	err := row.Scan(&p.ID, &p.ClientID, &p.Amount, &p.Currency, &p.Reference, &p.ReferenceLabel, &lines, &p.SuccessURL,
		&p.CancelURL, &customer, &meta, &status, &expires, &paid, &created, &updated, &p.LinkID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, checkout.ErrNotFound
	} else if err != nil {
		return nil, err
	}
	if p.LineItems, err = decodeLineItems(lines); err != nil {
		return nil, fmt.Errorf("db: payment %s line items: %w", p.ID, err)
	}
	if err := json.Unmarshal([]byte(customer), &p.Customer); err != nil {
		return nil, fmt.Errorf("db: payment %s customer: %w", p.ID, err)
	}
	if err := json.Unmarshal([]byte(meta), &p.Metadata); err != nil {
		return nil, fmt.Errorf("db: payment %s metadata: %w", p.ID, err)
	}
	p.Status = checkout.PaymentStatus(status)
	p.ExpiresAt, p.PaidAt, p.CreatedAt, p.UpdatedAt = fromMS(expires), fromNullMS(paid), fromMS(created), fromMS(updated)
	return &p, nil
}

// FindPayment implements checkout.Store.
func (db *DB) FindPayment(ctx context.Context, id string) (*checkout.Payment, error) {
	p, err := scanPayment(db.read.QueryRowContext(ctx, `SELECT `+paymentColumns+` FROM payments WHERE id = ?`, id))
	if err != nil {
		return nil, err
	}
	p.Attempts, err = db.queryAttempts(ctx, `WHERE payment_id = ? ORDER BY created_at DESC, id DESC`, id)
	if err != nil {
		return nil, err
	}
	if mayHaveRefunds(p.Status) {
		p.Refunds, err = paymentRefunds(ctx, db.read, id)
	}
	return p, err
}

// mayHaveRefunds reports whether a payment in status s can have refunds: only a paid payment
// is refunded, and none of its later statuses leads back, so the reads of every open, expired
// or cancelled payment (most of a checkout's) skip the refunds query.
func mayHaveRefunds(s checkout.PaymentStatus) bool {
	return s == checkout.PaymentPaid || s == checkout.PaymentPartiallyRefunded || s == checkout.PaymentRefunded
}

const attemptColumns = `id, payment_id, provider, method, status, provider_ref, pay_url, amount, currency, error, checks,
	next_check_at, created_at, updated_at`

func scanAttempt(row interface{ Scan(...any) error }) (*checkout.Attempt, error) {
	var a checkout.Attempt
	var provider, status string
	var next sql.NullInt64
	var created, updated int64
	err := row.Scan(&a.ID, &a.PaymentID, &provider, &a.Method, &status, &a.ProviderRef, &a.PayURL, &a.Amount, &a.Currency,
		&a.Error, &a.Checks, &next, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, checkout.ErrNotFound
	} else if err != nil {
		return nil, err
	}
	a.Provider, a.Status = providers.ID(provider), checkout.AttemptStatus(status)
	a.NextCheckAt, a.CreatedAt, a.UpdatedAt = fromNullMS(next), fromMS(created), fromMS(updated)
	return &a, nil
}

func (db *DB) queryAttempts(ctx context.Context, where string, args ...any) ([]checkout.Attempt, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+attemptColumns+` FROM attempts `+where, args...)
	return collect(rows, err, scanAttempt)
}

// collect reads every row of a query's answer with scan and closes the rows; err is the
// query's own error, so a call site reads collect(db.read.QueryContext(…)) in two lines.
func collect[T any](rows *sql.Rows, err error, scan func(interface{ Scan(...any) error }) (*T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *v)
	}
	return out, rows.Err()
}

// decodeLineItems reads the stored JSON of a payment's or a payment link's line items.
func decodeLineItems(raw string) ([]checkout.LineItem, error) {
	var li []lineItem
	if err := json.Unmarshal([]byte(raw), &li); err != nil {
		return nil, err
	}
	var out []checkout.LineItem
	for _, l := range li {
		out = append(out, checkout.LineItem(l))
	}
	return out, nil
}

// CreateAttempt implements checkout.Store.
func (db *DB) CreateAttempt(ctx context.Context, a *checkout.Attempt, ev checkout.Event) error {
	var slot sql.NullString
	if a.Status.Holding() {
		slot = sql.NullString{String: liveKey(a.PaymentID, a.Provider, a.Method), Valid: true}
	}
	return db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO attempts (`+attemptColumns+`, live_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (live_key) DO NOTHING`,
			a.ID, a.PaymentID, string(a.Provider), a.Method, string(a.Status), a.ProviderRef, a.PayURL, a.Amount, a.Currency,
			a.Error, a.Checks, nullMS(a.NextCheckAt), ms(a.CreatedAt), ms(a.UpdatedAt), slot)
		if err := affectedOne(res, err); err != nil {
			if errors.Is(err, checkout.ErrConflict) {
				return err // another attempt holds the slot
			}
			return fmt.Errorf("db: insert attempt: %w", err)
		}
		return insertEvent(ctx, tx, ev)
	})
}

// liveKey names an attempt's payment+provider+method slot (see migration 0004).
func liveKey(paymentID string, provider providers.ID, method string) string {
	return paymentID + "|" + string(provider) + "|" + method
}

// FindAttempt implements checkout.Store.
func (db *DB) FindAttempt(ctx context.Context, id string) (*checkout.Attempt, error) {
	return scanAttempt(db.read.QueryRowContext(ctx, `SELECT `+attemptColumns+` FROM attempts WHERE id = ?`, id))
}

// FindAttemptByProviderRef implements checkout.Store.
func (db *DB) FindAttemptByProviderRef(ctx context.Context, provider providers.ID, ref string) (*checkout.Attempt, error) {
	return scanAttempt(db.read.QueryRowContext(ctx, `SELECT `+attemptColumns+` FROM attempts WHERE provider = ? AND provider_ref = ?
		ORDER BY created_at DESC LIMIT 1`, string(provider), ref))
}

// placeholders returns "?, ?, ?" for n values.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// Apply implements checkout.Store: every update is conditional on the row's current status,
// and a row not in a starting status rolls the whole change back.
func (db *DB) Apply(ctx context.Context, c checkout.Change) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		if pc := c.Payment; pc != nil {
			args := []any{string(pc.To), nullMS(pc.PaidAt), ms(pc.At), pc.ID}
			for _, f := range pc.From {
				args = append(args, string(f))
			}
			res, err := tx.ExecContext(ctx, `UPDATE payments SET status = ?, paid_at = COALESCE(?, paid_at), updated_at = ?
				WHERE id = ? AND status IN (`+placeholders(len(pc.From))+`)`, args...)
			if err := affectedOne(res, err); err != nil {
				return err
			}
		}
		if ac := c.Attempt; ac != nil {
			release := 0
			if ac.ReleaseSlot || !ac.To.Holding() {
				release = 1
			}
			args := []any{string(ac.To), release, ac.ProviderRef, ac.PayURL, ac.Error, ac.Checks, ac.Checks, nullMS(ac.NextCheckAt), ms(ac.At), ac.ID}
			for _, f := range ac.From {
				args = append(args, string(f))
			}
			res, err := tx.ExecContext(ctx, `UPDATE attempts SET status = ?,
				live_key = CASE WHEN ? = 1 THEN NULL ELSE live_key END,
				provider_ref = COALESCE(NULLIF(?, ''), provider_ref),
				pay_url = COALESCE(NULLIF(?, ''), pay_url),
				error = COALESCE(NULLIF(?, ''), error),
				checks = CASE WHEN ? < 0 THEN checks ELSE ? END,
				next_check_at = COALESCE(?, next_check_at),
				lease_until = NULL,
				updated_at = ?
				WHERE id = ? AND status IN (`+placeholders(len(ac.From))+`)`, args...)
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
	})
}

func affectedOne(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n != 1 {
		return checkout.ErrConflict
	}
	return nil
}

// Events implements checkout.Store.
func (db *DB) Events(ctx context.Context, paymentID string) ([]checkout.Event, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT seq, payment_id, attempt_id, type, data, created_at FROM events
		WHERE payment_id = ? ORDER BY seq`, paymentID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []checkout.Event
	for rows.Next() {
		var ev checkout.Event
		var data string
		var created int64
		if err := rows.Scan(&ev.Seq, &ev.PaymentID, &ev.AttemptID, &ev.Type, &data, &created); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(data), &ev.Data); err != nil {
			return nil, fmt.Errorf("db: event %d: %w", ev.Seq, err)
		}
		ev.CreatedAt = fromMS(created)
		out = append(out, ev)
	}
	return out, rows.Err()
}

// CreateApp implements checkout.Store.
func (db *DB) CreateApp(ctx context.Context, a *checkout.App) error {
	_, err := db.exec(ctx, `INSERT INTO apps (`+appColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.ClientID, a.Name, a.WebhookURL, a.WebhookSecret.Reveal(), a.DisplayName, a.LogoURL, a.AccentColor, ms(a.CreatedAt), a.DefaultLanguage)
	return err
}

const appColumns = `client_id, name, webhook_url, webhook_secret, display_name, logo_url, accent_color, created_at, default_language`

// appWebhookColumns are read with appColumns; CreateApp leaves them to their defaults.
const appWebhookColumns = `webhook_secret_previous, webhook_secret_rotated_at, webhook_disabled_at, webhook_disabled_reason`

func scanApp(row interface{ Scan(...any) error }) (*checkout.App, error) {
	var a checkout.App
	var secret, previous string
	var created int64
	var rotated, disabled sql.NullInt64
	err := row.Scan(&a.ClientID, &a.Name, &a.WebhookURL, &secret, &a.DisplayName, &a.LogoURL, &a.AccentColor, &created,
		&a.DefaultLanguage, &previous, &rotated, &disabled, &a.WebhookDisabledReason)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, checkout.ErrNotFound
	} else if err != nil {
		return nil, err
	}
	a.WebhookSecret, a.CreatedAt = checkout.Secret(secret), fromMS(created)
	a.PreviousWebhookSecret, a.WebhookSecretRotatedAt, a.WebhookDisabledAt = checkout.Secret(previous), fromNullMS(rotated), fromNullMS(disabled)
	return &a, nil
}

// FindApp implements checkout.Store.
func (db *DB) FindApp(ctx context.Context, clientID string) (*checkout.App, error) {
	return scanApp(db.read.QueryRowContext(ctx, `SELECT `+appColumns+`, `+appWebhookColumns+` FROM apps WHERE client_id = ?`, clientID))
}

// ListApps implements checkout.Store.
func (db *DB) ListApps(ctx context.Context) ([]checkout.App, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+appColumns+`, `+appWebhookColumns+` FROM apps ORDER BY created_at, client_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []checkout.App
	for rows.Next() {
		a, err := scanApp(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *a)
	}
	return out, rows.Err()
}

// SetWebhookSecret implements checkout.Store.
func (db *DB) SetWebhookSecret(ctx context.Context, clientID string, secret checkout.Secret, at time.Time) error {
	res, err := db.exec(ctx, `UPDATE apps SET webhook_secret_previous = webhook_secret, webhook_secret_rotated_at = ?,
		webhook_secret = ? WHERE client_id = ?`, ms(at), secret.Reveal(), clientID)
	if err = affectedOne(res, err); errors.Is(err, checkout.ErrConflict) {
		return checkout.ErrNotFound
	}
	return err
}

// CreateToken implements checkout.Store.
func (db *DB) CreateToken(ctx context.Context, t *checkout.Token) error {
	scopes := make([]string, len(t.Scopes))
	for i, s := range t.Scopes {
		scopes[i] = string(s)
	}
	_, err := db.exec(ctx, `INSERT INTO client_tokens (id, client_id, secret_hash, scopes, label, expires_at, revoked_at,
		last_used_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.ClientID, t.SecretHash, strings.Join(scopes, " "), t.Label, nullMS(t.ExpiresAt), nullMS(t.RevokedAt),
		nullMS(t.LastUsedAt), ms(t.CreatedAt))
	return err
}

const tokenColumns = `id, client_id, secret_hash, scopes, label, expires_at, revoked_at, last_used_at, created_at`

// FindToken implements checkout.Store.
func (db *DB) FindToken(ctx context.Context, id string) (*checkout.Token, error) {
	return scanToken(db.read.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM client_tokens WHERE id = ?`, id))
}

// ListTokens implements checkout.Store.
func (db *DB) ListTokens(ctx context.Context, clientID string) ([]checkout.Token, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+tokenColumns+` FROM client_tokens WHERE client_id = ? ORDER BY created_at, id`, clientID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []checkout.Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *t)
	}
	return out, rows.Err()
}

// RevokeToken implements checkout.Store; revoking twice keeps the first time.
func (db *DB) RevokeToken(ctx context.Context, id string, at time.Time) error {
	res, err := db.exec(ctx, `UPDATE client_tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?`, ms(at), id)
	if err = affectedOne(res, err); errors.Is(err, checkout.ErrConflict) {
		return checkout.ErrNotFound
	}
	return err
}

func scanToken(row interface{ Scan(...any) error }) (*checkout.Token, error) {
	var t checkout.Token
	var scopes string
	var expires, revoked, used sql.NullInt64
	var created int64
	err := row.Scan(&t.ID, &t.ClientID, &t.SecretHash, &scopes, &t.Label, &expires, &revoked, &used, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, checkout.ErrNotFound
	} else if err != nil {
		return nil, err
	}
	for _, s := range strings.Fields(scopes) {
		t.Scopes = append(t.Scopes, checkout.Scope(s))
	}
	t.ExpiresAt, t.RevokedAt, t.LastUsedAt, t.CreatedAt = fromNullMS(expires), fromNullMS(revoked), fromNullMS(used), fromMS(created)
	return &t, nil
}

// TouchToken implements checkout.Store.
func (db *DB) TouchToken(ctx context.Context, id string, at time.Time) error {
	_, err := db.exec(ctx, `UPDATE client_tokens SET last_used_at = ? WHERE id = ?`, ms(at), id)
	return err
}

// Setting implements checkout.Store; a missing key is ErrNotFound.
func (db *DB) Setting(ctx context.Context, key string) (string, error) {
	var v string
	err := db.read.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", checkout.ErrNotFound
	}
	return v, err
}

// PutSettingIfAbsent implements checkout.Store: it stores value unless key has one, and
// returns the value that is stored, so concurrent first starts agree on one.
func (db *DB) PutSettingIfAbsent(ctx context.Context, key, value string) (string, error) {
	var stored string
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`, key, value); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&stored)
	})
	return stored, err
}

// CountPayments returns how many payments exist, for health checks and tests.
func (db *DB) CountPayments(ctx context.Context) (int, error) {
	var n int
	err := db.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM payments`).Scan(&n)
	return n, err
}

// UpdateApp implements checkout.Store.
func (db *DB) UpdateApp(ctx context.Context, a *checkout.App) error {
	res, err := db.exec(ctx, `UPDATE apps SET name = ?, webhook_url = ?, display_name = ?, logo_url = ?, accent_color = ?,
		default_language = ? WHERE client_id = ?`, a.Name, a.WebhookURL, a.DisplayName, a.LogoURL, a.AccentColor, a.DefaultLanguage, a.ClientID)
	if err = affectedOne(res, err); errors.Is(err, checkout.ErrConflict) {
		return checkout.ErrNotFound
	}
	return err
}

// CreateOAuthClient implements checkout.Store.
func (db *DB) CreateOAuthClient(ctx context.Context, c *checkout.OAuthClient) error {
	_, err := db.exec(ctx, `INSERT INTO oauth_clients (id, secret_hash, name, created_at) VALUES (?, ?, ?, ?)`,
		c.ID, c.SecretHash, c.Name, ms(c.CreatedAt))
	return err
}

// FindOAuthClient implements checkout.Store.
func (db *DB) FindOAuthClient(ctx context.Context, id string) (*checkout.OAuthClient, error) {
	var c checkout.OAuthClient
	var created int64
	var revoked sql.NullInt64
	err := db.read.QueryRowContext(ctx, `SELECT id, secret_hash, name, created_at, revoked_at FROM oauth_clients WHERE id = ?`, id).
		Scan(&c.ID, &c.SecretHash, &c.Name, &created, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, checkout.ErrNotFound
	} else if err != nil {
		return nil, err
	}
	c.CreatedAt, c.RevokedAt = fromMS(created), fromNullMS(revoked)
	return &c, nil
}

// CreateAccessToken implements checkout.Store; it also drops tokens expired a day ago, so
// the table stays small without a separate job.
func (db *DB) CreateAccessToken(ctx context.Context, t *checkout.AccessToken) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		// Lock the client's row while it is still unrevoked: a revocation that committed since
		// the client was read refuses the token, and one running now waits for this
		// transaction and then deletes the token with the others (PostgreSQL re-checks the
		// WHERE on the row's newest version; SQLite has one writer).
		res, err := tx.ExecContext(ctx, `UPDATE oauth_clients SET revoked_at = revoked_at WHERE id = ? AND revoked_at IS NULL`, t.ClientID)
		if err = affectedOne(res, err); errors.Is(err, checkout.ErrConflict) {
			return checkout.ErrNotFound
		} else if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM oauth_tokens WHERE expires_at < ?`, ms(t.CreatedAt.Add(-24*time.Hour))); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO oauth_tokens (id, secret_hash, client_id, expires_at, created_at) VALUES (?, ?, ?, ?, ?)`,
			t.ID, t.SecretHash, t.ClientID, ms(t.ExpiresAt), ms(t.CreatedAt))
		return err
	})
}

// FindAccessToken implements checkout.Store.
func (db *DB) FindAccessToken(ctx context.Context, id string) (*checkout.AccessToken, error) {
	var t checkout.AccessToken
	var expires, created int64
	err := db.read.QueryRowContext(ctx, `SELECT id, secret_hash, client_id, expires_at, created_at FROM oauth_tokens WHERE id = ?`, id).
		Scan(&t.ID, &t.SecretHash, &t.ClientID, &expires, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, checkout.ErrNotFound
	} else if err != nil {
		return nil, err
	}
	t.ExpiresAt, t.CreatedAt = fromMS(expires), fromMS(created)
	return &t, nil
}

// ListPayments implements checkout.Store. Attempts are not loaded (a page lists payments);
// refunds are, for refundedAmount.
func (db *DB) ListPayments(ctx context.Context, f checkout.PaymentFilter) ([]checkout.Payment, int, error) {
	var where []string
	var args []any
	if f.ClientID != "" {
		where, args = append(where, "client_id = ?"), append(args, f.ClientID)
	}
	if f.Status != "" {
		where, args = append(where, "status = ?"), append(args, string(f.Status))
	}
	if !f.CreatedFrom.IsZero() {
		where, args = append(where, "created_at >= ?"), append(args, ms(f.CreatedFrom))
	}
	if !f.CreatedTo.IsZero() {
		where, args = append(where, "created_at < ?"), append(args, ms(f.CreatedTo))
	}
	if f.Search != "" {
		where = append(where, `(id = ? OR reference LIKE ? ESCAPE '\')`)
		args = append(args, f.Search, "%"+likeEscaper.Replace(f.Search)+"%")
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	var count int
	if err := db.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM payments`+cond, args...).Scan(&count); err != nil {
		return nil, 0, err
	}
	if f.After != nil {
		where = append(where, "(created_at < ? OR (created_at = ? AND id <= ?))")
		args = append(args, ms(f.After.CreatedAt), ms(f.After.CreatedAt), f.After.ID)
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	rows, err := db.read.QueryContext(ctx, `SELECT `+paymentColumns+` FROM payments`+cond+` ORDER BY created_at DESC, id DESC LIMIT ?`,
		append(args, f.Limit)...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []checkout.Payment
	for rows.Next() {
		p, err := scanPayment(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, *p)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	return out, count, db.loadRefunds(ctx, out)
}
