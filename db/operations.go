package db

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"time"

	"github.com/kassa-pay/kassa/checkout"
)

// Ready reports whether the database answers and every embedded migration has been applied
// (GET /readyz). An instance running older code than its database, or a database that lost
// a migration, is not ready.
func (db *DB) Ready(ctx context.Context) error {
	if err := db.write.PingContext(ctx); err != nil {
		return fmt.Errorf("database unreachable: %w", err)
	}
	if db.read != nil {
		if err := db.read.PingContext(ctx); err != nil {
			return fmt.Errorf("database unreachable: %w", err)
		}
	}
	want, err := db.embeddedMigrations()
	if err != nil {
		return err
	}
	rows, err := db.read.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return fmt.Errorf("migrations unreadable: %w", err)
	}
	defer rows.Close()
	applied := map[int]bool{}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return err
		}
		applied[v] = true
	}
	if err := rows.Err(); err != nil {
		return err
	}
	var missing []string
	for _, m := range want {
		if !applied[m.version] {
			missing = append(missing, m.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("migrations not applied: %s", strings.Join(missing, ", "))
	}
	return nil
}

type migration struct {
	version int
	name    string
}

// embeddedMigrations lists the migrations of the database's dialect compiled into this binary.
func (db *DB) embeddedMigrations() ([]migration, error) {
	names, err := fs.Glob(migrations, "migrations/"+db.Dialect()+"/*.sql")
	if err != nil {
		return nil, err
	}
	out := make([]migration, 0, len(names))
	for _, name := range names {
		base := name[strings.LastIndex(name, "/")+1:]
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return nil, fmt.Errorf("db: migration %s has no numeric prefix", base)
		}
		out = append(out, migration{v, base})
	}
	return out, nil
}

// Pools returns the database/sql pools, by name, for their statistics (kassa_db_* metrics).
func (db *DB) Pools() map[string]*sql.DB {
	pools := map[string]*sql.DB{"write": db.write}
	if db.read != nil {
		pools["read"] = db.read
	}
	return pools
}

// lag is how long ago the oldest of a job's due items fell due (0 when none is due).
func (db *DB) lag(ctx context.Context, query string, args ...any) (time.Duration, error) {
	var oldest sql.NullInt64
	if err := db.read.QueryRowContext(ctx, query, args...).Scan(&oldest); err != nil {
		return 0, err
	}
	if !oldest.Valid {
		return 0, nil
	}
	return max(db.now().Sub(fromMS(oldest.Int64)), 0), nil
}

// VerificationLag is how late the background verification of live attempts is: how long
// ago the oldest due check fell due.
func (db *DB) VerificationLag(ctx context.Context) (time.Duration, error) {
	return db.lag(ctx, `SELECT MIN(next_check_at) FROM attempts WHERE status IN (?, ?, ?) AND next_check_at <= ?`,
		string(checkout.AttemptPending), string(checkout.AttemptAuthorized), string(checkout.AttemptReview), ms(db.now()))
}

// ExpiryLag is how late the expiry job is: how long ago the oldest open payment past its
// expiry should have been expired.
func (db *DB) ExpiryLag(ctx context.Context) (time.Duration, error) {
	return db.lag(ctx, `SELECT MIN(expires_at) FROM payments WHERE status = ? AND expires_at <= ?`,
		string(checkout.PaymentOpen), ms(db.now()))
}
