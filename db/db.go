// Package db is Kassa's storage: SQLite by default, PostgreSQL for several instances, their
// embedded migrations, the checkout.Store implementation and the gorilla/sessions store.
//
// SQLite is opened twice: one connection for every write, because SQLite has one writer and a
// pool of writers only fights over the lock (busy retries starve some of them), and a pool
// for reads, which WAL lets run beside the writer. PostgreSQL is one pool for both, and no
// gate: its row locks and conditional updates keep concurrent writers (of this process and
// of other instances) correct. The statements are the same on both (see pgdriver.go); the few
// that differ live in dialect.go.
package db

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/securecookie"

	_ "github.com/mattn/go-sqlite3" // the database/sql driver "sqlite3"
)

//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrations embed.FS

// DB is an open Kassa database.
type DB struct {
	write *sql.DB
	read  *sql.DB
	// writer admits one write transaction at a time, first come first served: database/sql
	// hands a freed connection to a random waiter, which stretches the tail of the wait.
	// It is nil on PostgreSQL, which takes concurrent writers.
	writer  chan struct{}
	dialect *dialect
	// owner names this process in the leases it takes on background work.
	owner string
	// Lease is how long a claim on background work holds (zero: ClaimLease); tests and
	// KASSA_CLAIM_LEASE shorten it so that a killed instance's work comes back sooner.
	Lease time.Duration
	// Now is injectable for tests.
	Now func() time.Time
}

// Open opens the database named by a URL: "sqlite:PATH" or "sqlite://PATH" (a plain path works
// too), or "postgres://user@host:5432/name?sslmode=disable" (or postgresql://), then applies
// pending migrations.
func Open(ctx context.Context, dbURL string) (*DB, error) {
	if strings.HasPrefix(dbURL, "postgres://") || strings.HasPrefix(dbURL, "postgresql://") {
		return openPostgres(ctx, dbURL)
	}
	path, err := sqlitePath(dbURL)
	if err != nil {
		return nil, err
	}
	// _txlock=immediate takes the write lock at BEGIN, so a transaction that reads and then
	// writes never fails halfway with SQLITE_BUSY; synchronous=FULL keeps the last commits
	// through a power loss (about 3-4k writes a second here, far above a checkout's needs).
	// _stmt_cache_size keeps each connection's prepared statements, so a query is parsed
	// and planned once per connection instead of on every call.
	params := "_journal_mode=WAL&_foreign_keys=on&_busy_timeout=5000&_synchronous=FULL&_stmt_cache_size=64"
	w, err := sql.Open("sqlite3", "file:"+path+"?"+params+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("db: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	db := &DB{write: w, writer: make(chan struct{}, 1), dialect: &sqliteDialect, owner: newOwner()}
	if err := db.migrate(ctx); err != nil {
		w.Close()
		return nil, err
	}
	r, err := sql.Open("sqlite3", "file:"+path+"?"+params+"&mode=ro")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("db: open %s: %w", path, err)
	}
	r.SetMaxOpenConns(8)
	r.SetMaxIdleConns(8) // the default of 2 closes (and loses the statements of) the others
	db.read = r
	return db, nil
}

func sqlitePath(dbURL string) (string, error) {
	switch {
	case strings.HasPrefix(dbURL, "sqlite://"):
		dbURL = strings.TrimPrefix(dbURL, "sqlite://")
	case strings.HasPrefix(dbURL, "sqlite:"):
		dbURL = strings.TrimPrefix(dbURL, "sqlite:")
	case strings.Contains(dbURL, "://"):
		return "", fmt.Errorf("db: unsupported database URL %q; use sqlite:PATH or postgres://…", dbURL)
	}
	if dbURL == "" {
		return "", fmt.Errorf("db: empty database path")
	}
	// Keep the path literal inside the file: URI the driver parses.
	return (&url.URL{Path: dbURL}).EscapedPath(), nil
}

// DefaultPostgresConns is each instance's connection pool size on PostgreSQL; the URL
// parameter pool_max_conns (as pgxpool spells it) sets another, so that N instances stay
// under the server's max_connections (100 by default).
const DefaultPostgresConns = 20

// openPostgres opens one pool for reads and writes and migrates under an advisory lock.
func openPostgres(ctx context.Context, dbURL string) (*DB, error) {
	conns := DefaultPostgresConns
	if u, err := url.Parse(dbURL); err == nil && u.Query().Has("pool_max_conns") {
		q := u.Query()
		n, err := strconv.Atoi(q.Get("pool_max_conns"))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("db: pool_max_conns=%q must be a positive number", q.Get("pool_max_conns"))
		}
		conns = n
		q.Del("pool_max_conns")
		u.RawQuery = q.Encode()
		dbURL = u.String()
	}
	p, err := sql.Open(PostgresDriverName, dbURL)
	if err != nil {
		return nil, fmt.Errorf("db: open PostgreSQL: %w", err)
	}
	p.SetMaxOpenConns(conns)
	p.SetMaxIdleConns(conns)
	p.SetConnMaxIdleTime(5 * time.Minute)
	if err := p.PingContext(ctx); err != nil {
		p.Close()
		return nil, fmt.Errorf("db: PostgreSQL at %s does not answer: %w", redactURL(dbURL), err)
	}
	db := &DB{write: p, read: p, dialect: &postgresDialect, owner: newOwner()}
	if err := db.migrate(ctx); err != nil {
		p.Close()
		return nil, err
	}
	return db, nil
}

// redactURL drops the password from a database URL for error messages.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "the database URL"
	}
	return u.Redacted()
}

// newOwner names this process for the leases it takes: host, pid and a random suffix, so two
// processes never share a name even in containers with equal pids.
func newOwner() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s/%d/%x", host, os.Getpid(), securecookie.GenerateRandomKey(4))
}

// WithStartupLock runs fn while no other instance on the database runs its own: first-start
// setup that reads, then creates (the demo store's application), happens once even when
// instances start together. On SQLite, where one process owns the file, it just runs fn.
func (db *DB) WithStartupLock(ctx context.Context, fn func() error) error {
	if db.dialect.lockStartup == "" {
		return fn()
	}
	conn, err := db.write.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, db.dialect.lockStartup); err != nil {
		return fmt.Errorf("db: startup lock: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), db.dialect.unlockStartup)
	return fn()
}

// Dialect is "sqlite" or "postgres".
func (db *DB) Dialect() string { return db.dialect.name }

// Close closes both pools.
func (db *DB) Close() error {
	err := db.write.Close()
	if db.read != nil && db.read != db.write {
		if rerr := db.read.Close(); err == nil {
			err = rerr
		}
	}
	return err
}

func (db *DB) now() time.Time {
	if db.Now != nil {
		return db.Now()
	}
	return time.Now()
}

// migrate applies the embedded migrations of the dialect not yet recorded in
// schema_migrations, each in its own transaction with its record, in file-name order. On
// PostgreSQL it holds an advisory lock meanwhile, so instances starting together apply each
// migration once: the others wait, then find it recorded.
func (db *DB) migrate(ctx context.Context) error {
	conn, err := db.write.Conn(ctx)
	if err != nil {
		return fmt.Errorf("db: migrations: %w", err)
	}
	defer conn.Close()
	if db.dialect.lockMigrations != "" {
		if _, err := conn.ExecContext(ctx, db.dialect.lockMigrations); err != nil {
			return fmt.Errorf("db: migrations lock: %w", err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), db.dialect.unlockMigrations)
	}
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("db: migrations table: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/"+db.dialect.name+"/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		base := name[strings.LastIndex(name, "/")+1:]
		version, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("db: migration %s has no numeric prefix", base)
		}
		var n int
		if err := conn.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, version).Scan(&n); err != nil {
			return fmt.Errorf("db: migration %s: %w", base, err)
		}
		if n > 0 {
			continue
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			return err
		}
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			tx.Rollback()
			return fmt.Errorf("db: migration %s: %w", base, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
			version, base, ms(db.now())); err != nil {
			tx.Rollback()
			return fmt.Errorf("db: record migration %s: %w", base, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("db: migration %s: %w", base, err)
		}
	}
	return nil
}

// ms and fromMS convert between time.Time and the Unix milliseconds the schema stores.
func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

// nullMS stores the zero time as NULL.
func nullMS(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMilli(), Valid: true}
}

func fromNullMS(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromMS(v.Int64)
}
