package db

// dialect holds the few statements SQLite and PostgreSQL cannot share, side by side, so that
// the store's methods stay one code path. Everything else is portable SQL with `?`
// placeholders (pgdriver.go rewrites them for PostgreSQL).
type dialect struct {
	name string // also the migrations folder
	// lockMigrations and unlockMigrations bracket the migrations (empty: SQLite's single
	// writer connection already serialises them within a process); lockStartup and
	// unlockStartup bracket first-start setup (see WithStartupLock).
	lockMigrations, unlockMigrations string
	lockStartup, unlockStartup       string
	// relaxCommit, run first in a transaction, lets it commit without waiting for its log
	// to reach the disk: for counters whose last increments may be lost in a database crash
	// (rate limits), never for payments. Empty where there is no such switch.
	relaxCommit string

	// The claims take up to N rows of background work for this process, setting their lease;
	// args: lease_until, lease_owner, then the selection's own, then now (the lease test)
	// and the limit. They answer the claimed rows. PostgreSQL skips rows another instance is
	// claiming at the same moment (FOR UPDATE SKIP LOCKED) instead of queueing behind it;
	// SQLite has one writer, so the claim is atomic as it is.
	claimDueAttempts, claimStaleCreating, claimExpiredPayments string

	// lockPayment reads a payment row inside a write transaction (LockRefunds). SQLite has one
	// writer (every write transaction begins IMMEDIATE and db.tx admits one at a time), so the
	// plain read already sees a row no one else can change until commit. PostgreSQL lets
	// writers run side by side, so there the row must be locked: concurrent refunds of one
	// payment then wait for each other and each checks what is left after the previous one
	// committed.
	lockPayment string
}

// migrationsLockKey is the advisory lock id Kassa's migrations hold ("kassa" in ASCII), and
// startupLockKey the one first-start setup holds ("kassa1").
const (
	migrationsLockKey = "461196456801"    // 0x6b61737361
	startupLockKey    = "118066292941105" // 0x6b6173736131
)

const (
	dueAttemptsWhere   = `status IN (?, ?, ?) AND next_check_at <= ? AND (lease_until IS NULL OR lease_until < ?) ORDER BY next_check_at LIMIT ?`
	staleCreatingWhere = `status = ? AND created_at < ? AND (lease_until IS NULL OR lease_until < ?) ORDER BY created_at LIMIT ?`
	expiredWhere       = `status = ? AND expires_at <= ? AND (lease_until IS NULL OR lease_until < ?) ORDER BY expires_at LIMIT ?`
)

var sqliteDialect = dialect{
	name: "sqlite",
	claimDueAttempts: `UPDATE attempts SET lease_until = ?, lease_owner = ? WHERE id IN (
		SELECT id FROM attempts WHERE ` + dueAttemptsWhere + `) RETURNING ` + attemptColumns,
	claimStaleCreating: `UPDATE attempts SET lease_until = ?, lease_owner = ? WHERE id IN (
		SELECT id FROM attempts WHERE ` + staleCreatingWhere + `) RETURNING ` + attemptColumns,
	claimExpiredPayments: `UPDATE payments SET lease_until = ?, lease_owner = ? WHERE id IN (
		SELECT id FROM payments WHERE ` + expiredWhere + `) RETURNING id, expires_at`,
	lockPayment: `SELECT ` + paymentColumns + ` FROM payments WHERE id = ?`,
}

var postgresDialect = dialect{
	name:             "postgres",
	lockMigrations:   `SELECT pg_advisory_lock(` + migrationsLockKey + `)`,
	unlockMigrations: `SELECT pg_advisory_unlock(` + migrationsLockKey + `)`,
	lockStartup:      `SELECT pg_advisory_lock(` + startupLockKey + `)`,
	unlockStartup:    `SELECT pg_advisory_unlock(` + startupLockKey + `)`,
	relaxCommit:      `SET LOCAL synchronous_commit TO OFF`,
	claimDueAttempts: `UPDATE attempts SET lease_until = ?, lease_owner = ? WHERE id IN (
		SELECT id FROM attempts WHERE ` + dueAttemptsWhere + ` FOR UPDATE SKIP LOCKED) RETURNING ` + attemptColumns,
	claimStaleCreating: `UPDATE attempts SET lease_until = ?, lease_owner = ? WHERE id IN (
		SELECT id FROM attempts WHERE ` + staleCreatingWhere + ` FOR UPDATE SKIP LOCKED) RETURNING ` + attemptColumns,
	claimExpiredPayments: `UPDATE payments SET lease_until = ?, lease_owner = ? WHERE id IN (
		SELECT id FROM payments WHERE ` + expiredWhere + ` FOR UPDATE SKIP LOCKED) RETURNING id, expires_at`,
	lockPayment: `SELECT ` + paymentColumns + ` FROM payments WHERE id = ? FOR UPDATE`,
}
