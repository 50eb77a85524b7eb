package db

import (
	"context"
	"database/sql"
	"time"
)

// CountRequest counts one request against key in the fixed window starting at windowStart and
// returns the window's count so far, this request included. It is one upsert, shared by every
// instance on the database: a row per key holds the current window, and a request in a newer
// window starts it over, so the table never grows past one row per client token. (A request stamped with an older
// window, from an instance whose clock lags, counts in the current one.)
//
// On PostgreSQL the count commits without waiting for the disk (synchronous_commit off for
// this transaction only): every API request of a token updates the same row, so a commit's
// fsync would be held in the row lock by each request in turn; a database crash may forget
// the last few counts, which only lets a few more requests through.
func (db *DB) CountRequest(ctx context.Context, key string, windowStart time.Time) (int, error) {
	var n int
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if db.dialect.relaxCommit != "" {
			if _, err := tx.ExecContext(ctx, db.dialect.relaxCommit); err != nil {
				return err
			}
		}
		return tx.QueryRowContext(ctx, `INSERT INTO rate_limits (key, window_start, count) VALUES (?, ?, 1)
			ON CONFLICT (key) DO UPDATE SET
				count = CASE WHEN rate_limits.window_start >= excluded.window_start THEN rate_limits.count + 1 ELSE 1 END,
				window_start = CASE WHEN rate_limits.window_start >= excluded.window_start THEN rate_limits.window_start
					ELSE excluded.window_start END
			RETURNING count`, key, ms(windowStart)).Scan(&n)
	})
	return n, err
}
