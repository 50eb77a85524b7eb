package db

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/kassa-pay/kassa/checkout"
	"github.com/kassa-pay/kassa/providers"
)

// likeEscaper escapes LIKE's wildcards in a search term (the queries say ESCAPE '\').
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// ListOAuthClients implements checkout.Store.
func (db *DB) ListOAuthClients(ctx context.Context) ([]checkout.OAuthClient, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT id, secret_hash, name, created_at, revoked_at FROM oauth_clients ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []checkout.OAuthClient
	for rows.Next() {
		var c checkout.OAuthClient
		var created int64
		var revoked sql.NullInt64
		if err := rows.Scan(&c.ID, &c.SecretHash, &c.Name, &created, &revoked); err != nil {
			return nil, err
		}
		c.CreatedAt, c.RevokedAt = fromMS(created), fromNullMS(revoked)
		out = append(out, c)
	}
	return out, rows.Err()
}

// RevokeOAuthClient implements checkout.Store: the client is marked revoked and its access
// tokens deleted in one transaction. Revoking twice keeps the first time.
func (db *DB) RevokeOAuthClient(ctx context.Context, id string, at time.Time) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE oauth_clients SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?`, ms(at), id)
		if err = affectedOne(res, err); errors.Is(err, checkout.ErrConflict) {
			return checkout.ErrNotFound
		} else if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM oauth_tokens WHERE client_id = ?`, id)
		return err
	})
}

// Overview implements checkout.Store with one small indexed query per day and a few for the
// whole period.
func (db *DB) Overview(ctx context.Context, days []time.Time) (*checkout.Overview, error) {
	o := &checkout.Overview{}
	if len(days) == 0 {
		return o, nil
	}
	from := ms(days[0])
	for i, start := range days {
		end := start.AddDate(0, 0, 1)
		if i+1 < len(days) {
			end = days[i+1]
		}
		d := checkout.DayTotals{Start: start}
		rows, err := db.read.QueryContext(ctx, `SELECT currency, COUNT(*), CAST(SUM(amount) AS BIGINT) FROM payments
			WHERE paid_at >= ? AND paid_at < ? GROUP BY currency ORDER BY currency`, ms(start), ms(end))
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var t checkout.CurrencyTotal
			if err := rows.Scan(&t.Currency, &t.Count, &t.Amount); err != nil {
				rows.Close()
				return nil, err
			}
			d.Paid = append(d.Paid, t)
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
		o.Days = append(o.Days, d)
	}
	if err := db.read.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(CASE WHEN paid_at IS NOT NULL THEN 1 ELSE 0 END), 0)
		FROM payments WHERE created_at >= ?`, from).Scan(&o.Created, &o.Converted); err != nil {
		return nil, err
	}
	if err := db.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM payments WHERE status = ?`,
		string(checkout.PaymentOpen)).Scan(&o.Open); err != nil {
		return nil, err
	}
	rows, err := db.read.QueryContext(ctx, `SELECT provider, COUNT(*), COALESCE(SUM(CASE WHEN status = ? THEN 1 ELSE 0 END), 0)
		FROM attempts WHERE created_at >= ? GROUP BY provider ORDER BY provider`, string(checkout.AttemptPaid), from)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var p checkout.ProviderTotals
		var id string
		if err := rows.Scan(&id, &p.Attempts, &p.Paid); err != nil {
			return nil, err
		}
		p.Provider = providers.ID(id)
		o.Providers = append(o.Providers, p)
	}
	return o, rows.Err()
}
