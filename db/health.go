package db

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/kassa-pay/kassa/providers"
	"github.com/kassa-pay/kassa/providers/health"
)

var _ health.Store = (*DB)(nil)

// EnsureProviderHealth implements health.Store.
func (db *DB) EnsureProviderHealth(ctx context.Context, ids []providers.ID, now time.Time) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		for _, id := range ids {
			if _, err := tx.ExecContext(ctx, `INSERT INTO provider_health (provider, state, failures, updated_at)
				VALUES (?, ?, 0, ?) ON CONFLICT (provider) DO NOTHING`, string(id), string(health.Closed), ms(now)); err != nil {
				return fmt.Errorf("db: provider health %s: %w", id, err)
			}
		}
		return nil
	})
}

// ProviderHealth implements health.Store.
func (db *DB) ProviderHealth(ctx context.Context) ([]health.Status, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT provider, state, failures, last_error, opened_at, open_until, probe_until, updated_at
		FROM provider_health ORDER BY provider`)
	if err != nil {
		return nil, fmt.Errorf("db: provider health: %w", err)
	}
	defer rows.Close()
	var out []health.Status
	for rows.Next() {
		var s health.Status
		var id, state string
		var opened, until, probe sql.NullInt64
		var updated int64
		if err := rows.Scan(&id, &state, &s.Failures, &s.LastError, &opened, &until, &probe, &updated); err != nil {
			return nil, err
		}
		s.Provider, s.State = providers.ID(id), health.State(state)
		s.OpenedAt, s.OpenUntil, s.ProbeUntil, s.UpdatedAt = fromNullMS(opened), fromNullMS(until), fromNullMS(probe), fromMS(updated)
		out = append(out, s)
	}
	return out, rows.Err()
}

// RecordProviderFailure implements health.Store: the count and the opening are two
// statements of one transaction, the second conditional on the state, so of instances
// failing at once exactly one opens the breaker.
func (db *DB) RecordProviderFailure(ctx context.Context, id providers.ID, now time.Time, threshold int, openUntil time.Time, lastError string) (bool, error) {
	var opened bool
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE provider_health SET failures = failures + 1, last_error = ?, updated_at = ?
			WHERE provider = ?`, lastError, ms(now), string(id)); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE provider_health SET state = ?, opened_at = ?, open_until = ?, probe_until = NULL
			WHERE provider = ? AND ((state = ? AND failures >= ?) OR state = ?)`,
			string(health.Open), ms(now), ms(openUntil), string(id), string(health.Closed), threshold, string(health.HalfOpen))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		opened = n == 1
		return err
	})
	if err != nil {
		return false, fmt.Errorf("db: provider failure %s: %w", id, err)
	}
	return opened, nil
}

// RecordProviderSuccess implements health.Store.
func (db *DB) RecordProviderSuccess(ctx context.Context, id providers.ID, now time.Time) (bool, error) {
	var closed bool
	err := db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE provider_health SET state = ?, failures = 0, open_until = NULL, probe_until = NULL, updated_at = ?
			WHERE provider = ? AND state = ?`, string(health.Closed), ms(now), string(id), string(health.HalfOpen))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		closed = n == 1
		if !closed {
			_, err = tx.ExecContext(ctx, `UPDATE provider_health SET failures = 0, updated_at = ?
				WHERE provider = ? AND state = ? AND failures > 0`, ms(now), string(id), string(health.Closed))
		}
		return err
	})
	if err != nil {
		return false, fmt.Errorf("db: provider success %s: %w", id, err)
	}
	return closed, nil
}

// ClaimProviderProbe implements health.Store with a lease: one conditional update.
func (db *DB) ClaimProviderProbe(ctx context.Context, id providers.ID, now, until time.Time) (bool, error) {
	res, err := db.exec(ctx, `UPDATE provider_health SET state = ?, probe_until = ?, updated_at = ?
		WHERE provider = ? AND ((state = ? AND open_until <= ?) OR (state = ? AND probe_until < ?))`,
		string(health.HalfOpen), ms(until), ms(now), string(id), string(health.Open), ms(now), string(health.HalfOpen), ms(now))
	if err != nil {
		return false, fmt.Errorf("db: claim provider probe %s: %w", id, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}
