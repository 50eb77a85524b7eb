package db

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/kassa-pay/kassa/checkout"
)

// IdempotencyTTL is how long a key's response is kept and replayed, as Stripe does.
const IdempotencyTTL = 24 * time.Hour

// IdempotencyLease is how long a claim holds its key while the request runs. The request
// finishes its work even when its client hangs up, so only a crashed process leaves a claim
// unfinished; its key is free again a minute later rather than blocked for a day.
const IdempotencyLease = time.Minute

// ClaimIdempotencyKey claims key for the application, or reports what holds it. A key whose
// first use is older than IdempotencyTTL is forgotten and claimed afresh.
//
// It is correct under PostgreSQL's READ COMMITTED as under SQLite's single writer: a second
// claimant's INSERT waits on the unique key for the first one's transaction, then does
// nothing, and its SELECT (a new snapshot) sees the winner's row. The one gap is a winner that
// released the key (ReleaseIdempotencyKey) between the two statements: the row is gone, so the
// claim is tried again.
func (db *DB) ClaimIdempotencyKey(ctx context.Context, clientID, key, requestHash string) (checkout.IdempotentRequest, error) {
	for range 3 {
		out, err := db.claimIdempotencyKey(ctx, clientID, key, requestHash)
		if !errors.Is(err, sql.ErrNoRows) {
			return out, err
		}
	}
	return checkout.IdempotentRequest{}, errors.New("db: idempotency key keeps being released while claimed")
}

func (db *DB) claimIdempotencyKey(ctx context.Context, clientID, key, requestHash string) (checkout.IdempotentRequest, error) {
	var out checkout.IdempotentRequest
	now := db.now()
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE client_id = ? AND key = ? AND created_at < ?`,
			clientID, key, ms(now.Add(-IdempotencyTTL))); err != nil {
			return err
		}
		lease := ms(now.Add(IdempotencyLease))
		res, err := tx.ExecContext(ctx, `INSERT INTO idempotency_keys (client_id, key, request_hash, created_at, lease_until) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (client_id, key) DO NOTHING`, clientID, key, requestHash, ms(now), lease)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			out = checkout.IdempotentRequest{Claimed: true, SameRequest: true}
			return nil
		}
		// An unfinished claim whose lease ran out belongs to a request that died: take it
		// over. (A claim from before leases existed counts from its creation.)
		res, err = tx.ExecContext(ctx, `UPDATE idempotency_keys SET request_hash = ?, lease_until = ?, created_at = ?
			WHERE client_id = ? AND key = ? AND response_status IS NULL AND COALESCE(lease_until, created_at + ?) < ?`,
			requestHash, lease, ms(now), clientID, key, IdempotencyLease.Milliseconds(), ms(now))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			out = checkout.IdempotentRequest{Claimed: true, SameRequest: true}
			return nil
		}
		var hash string
		var status sql.NullInt64
		var body []byte
		if err := tx.QueryRowContext(ctx, `SELECT request_hash, response_status, response_body FROM idempotency_keys
			WHERE client_id = ? AND key = ?`, clientID, key).Scan(&hash, &status, &body); err != nil {
			return err
		}
		out = checkout.IdempotentRequest{SameRequest: hash == requestHash, Done: status.Valid, Status: int(status.Int64), Body: body}
		return nil
	})
	return out, err
}

// FinishIdempotencyKey stores the response of the request that claimed the key.
func (db *DB) FinishIdempotencyKey(ctx context.Context, clientID, key string, status int, body []byte) error {
	res, err := db.exec(ctx, `UPDATE idempotency_keys SET response_status = ?, response_body = ?
		WHERE client_id = ? AND key = ? AND response_status IS NULL`, status, body, clientID, key)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return errors.New("db: idempotency key was not claimed")
	}
	return nil
}

// ReleaseIdempotencyKey forgets a claimed key whose request failed without changing anything,
// so that a retry with the same key runs again.
func (db *DB) ReleaseIdempotencyKey(ctx context.Context, clientID, key string) error {
	_, err := db.exec(ctx, `DELETE FROM idempotency_keys WHERE client_id = ? AND key = ? AND response_status IS NULL`,
		clientID, key)
	return err
}

// ExtendIdempotencyKey renews the lease of an unfinished claim for another IdempotencyLease:
// the request holding it is still running (see handlers' idempotent), so a retry must keep
// answering "still being processed" instead of taking the key over and running again.
func (db *DB) ExtendIdempotencyKey(ctx context.Context, clientID, key string) error {
	_, err := db.exec(ctx, `UPDATE idempotency_keys SET lease_until = ? WHERE client_id = ? AND key = ? AND response_status IS NULL`,
		ms(db.now().Add(IdempotencyLease)), clientID, key)
	return err
}

// DeleteExpiredIdempotencyKeys forgets keys first used more than IdempotencyTTL ago, whose
// answers are no longer replayed, and returns how many. Without it every key ever sent (API
// keys, dashboard and payment-link form keys) would stay for good.
func (db *DB) DeleteExpiredIdempotencyKeys(ctx context.Context) (int64, error) {
	res, err := db.exec(ctx, `DELETE FROM idempotency_keys WHERE created_at < ?`, ms(db.now().Add(-IdempotencyTTL)))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
