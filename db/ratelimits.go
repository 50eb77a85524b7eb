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
func (db *DB) CountRequest(ctx context.Context, key string, windowStart time.Time) (int, error) {
	var n int
	err := db.tx(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `INSERT INTO rate_limits (key, window_start, count) VALUES (?, ?, 1)
			ON CONFLICT (key) DO UPDATE SET
				count = CASE WHEN rate_limits.window_start >= excluded.window_start THEN rate_limits.count + 1 ELSE 1 END,
				window_start = CASE WHEN rate_limits.window_start >= excluded.window_start THEN rate_limits.window_start
					ELSE excluded.window_start END
			RETURNING count`, key, ms(windowStart)).Scan(&n)
	})
	return n, err
}
