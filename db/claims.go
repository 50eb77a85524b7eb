package db

import (
	"context"
	"database/sql"
	"sort"
	"time"

	"github.com/kassa-pay/kassa/checkout"
)

// Background work (verification polls, stuck attempts, expiry) is claimed, not just listed:
// each listing below also sets a lease on the rows it returns, so that several instances on one
// PostgreSQL database share the work and never take one item at the same time. A lease ends
// when it runs out (an instance that died lets go that way) or, for an attempt, when any change
// of the attempt is applied (Apply clears it): the work the claim was for has happened.
const (
	// ClaimLease is how long a claimed item stays with the instance that took it. It covers
	// ClaimBatch items done one after another, each a provider call of at most ~10 s.
	ClaimLease = 2 * time.Minute
	// ClaimBatch caps one claim, whatever limit is asked, so that the last item of a batch is
	// still reached before its lease ends; the rest waits for the next pass.
	ClaimBatch = 10
)

// DueAttempts implements checkout.Store: it claims up to limit (at most ClaimBatch) live
// attempts whose next check is due and that no other instance holds.
func (db *DB) DueAttempts(ctx context.Context, now time.Time, limit int) ([]checkout.Attempt, error) {
	out, err := db.claimAttempts(ctx, db.dialect.claimDueAttempts, now,
		string(checkout.AttemptPending), string(checkout.AttemptAuthorized), string(checkout.AttemptReview), ms(now), ms(now), min(limit, ClaimBatch))
	sort.SliceStable(out, func(i, j int) bool { return out[i].NextCheckAt.Before(out[j].NextCheckAt) })
	return out, err
}

// StaleCreating implements checkout.Store: it claims up to limit (at most ClaimBatch)
// attempts stuck in AttemptCreating since before.
func (db *DB) StaleCreating(ctx context.Context, before time.Time, limit int) ([]checkout.Attempt, error) {
	now := db.now()
	out, err := db.claimAttempts(ctx, db.dialect.claimStaleCreating, now,
		string(checkout.AttemptCreating), ms(before), ms(now), min(limit, ClaimBatch))
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, err
}

func (db *DB) claimAttempts(ctx context.Context, query string, now time.Time, args ...any) ([]checkout.Attempt, error) {
	var out []checkout.Attempt
	err := db.tx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, query, append([]any{ms(now.Add(db.lease())), db.owner}, args...)...)
		out, err = collect(rows, err, scanAttempt)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ExpiredPayments implements checkout.Store: it claims up to limit (at most ClaimBatch) open
// payments past their expiry. Expiring one moves it out of open, which ends the claim.
func (db *DB) ExpiredPayments(ctx context.Context, now time.Time, limit int) ([]string, error) {
	type row struct {
		id      string
		expires int64
	}
	var claimed []row
	err := db.tx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, db.dialect.claimExpiredPayments, ms(now.Add(db.lease())), db.owner,
			string(checkout.PaymentOpen), ms(now), ms(now), min(limit, ClaimBatch))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.id, &r.expires); err != nil {
				return err
			}
			claimed = append(claimed, r)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	sort.SliceStable(claimed, func(i, j int) bool { return claimed[i].expires < claimed[j].expires })
	ids := make([]string, len(claimed))
	for i, r := range claimed {
		ids[i] = r.id
	}
	return ids, nil
}

func (db *DB) lease() time.Duration {
	if db.Lease > 0 {
		return db.Lease
	}
	return ClaimLease
}

// ReleaseClaims lets go of every lease this process holds, so that a graceful shutdown hands
// its claimed work to the other instances at once instead of when the leases run out.
func (db *DB) ReleaseClaims(ctx context.Context) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		for _, table := range []string{"attempts", "payments"} {
			if _, err := tx.ExecContext(ctx, `UPDATE `+table+` SET lease_until = NULL WHERE lease_owner = ? AND lease_until IS NOT NULL`,
				db.owner); err != nil {
				return err
			}
		}
		return nil
	})
}
