package db

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/kassa-pay/kassa/checkout"
)

var _ checkout.OperatorStore = (*DB)(nil)

const operatorColumns = `id, email, password_hash, password_changed_at, disabled_at, last_sign_in_at, created_at`

func scanOperator(row interface{ Scan(...any) error }) (*checkout.Operator, error) {
	var o checkout.Operator
	var changed, created int64
	var disabled, last sql.NullInt64
	err := row.Scan(&o.ID, &o.Email, &o.PasswordHash, &changed, &disabled, &last, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, checkout.ErrNotFound
	} else if err != nil {
		return nil, err
	}
	o.PasswordChangedAt, o.DisabledAt, o.LastSignInAt, o.CreatedAt = fromMS(changed), fromNullMS(disabled), fromNullMS(last), fromMS(created)
	return &o, nil
}

// CreateOperator implements checkout.OperatorStore.
func (db *DB) CreateOperator(ctx context.Context, o *checkout.Operator) error {
	_, err := db.exec(ctx, `INSERT INTO operators (`+operatorColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		o.ID, o.Email, o.PasswordHash, ms(o.PasswordChangedAt), nullMS(o.DisabledAt), nullMS(o.LastSignInAt), ms(o.CreatedAt))
	return err
}

// FindOperator implements checkout.OperatorStore.
func (db *DB) FindOperator(ctx context.Context, id string) (*checkout.Operator, error) {
	return scanOperator(db.read.QueryRowContext(ctx, `SELECT `+operatorColumns+` FROM operators WHERE id = ?`, id))
}

// FindOperatorByEmail implements checkout.OperatorStore.
func (db *DB) FindOperatorByEmail(ctx context.Context, email string) (*checkout.Operator, error) {
	return scanOperator(db.read.QueryRowContext(ctx, `SELECT `+operatorColumns+` FROM operators WHERE email = ?`, email))
}

// ListOperators implements checkout.OperatorStore.
func (db *DB) ListOperators(ctx context.Context) ([]checkout.Operator, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+operatorColumns+` FROM operators ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []checkout.Operator
	for rows.Next() {
		o, err := scanOperator(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *o)
	}
	return out, rows.Err()
}

func (db *DB) updateOperator(ctx context.Context, query string, args ...any) error {
	res, err := db.exec(ctx, query, args...)
	if err = affectedOne(res, err); errors.Is(err, checkout.ErrConflict) {
		return checkout.ErrNotFound
	}
	return err
}

// SetOperatorPassword implements checkout.OperatorStore.
func (db *DB) SetOperatorPassword(ctx context.Context, id, hash string, at time.Time) error {
	return db.updateOperator(ctx, `UPDATE operators SET password_hash = ?, password_changed_at = ? WHERE id = ?`, hash, ms(at), id)
}

// DisableOperator implements checkout.OperatorStore; disabling twice keeps the first time.
func (db *DB) DisableOperator(ctx context.Context, id string, at time.Time) error {
	return db.updateOperator(ctx, `UPDATE operators SET disabled_at = COALESCE(disabled_at, ?) WHERE id = ?`, ms(at), id)
}

// TouchOperator implements checkout.OperatorStore.
func (db *DB) TouchOperator(ctx context.Context, id string, at time.Time) error {
	return db.updateOperator(ctx, `UPDATE operators SET last_sign_in_at = ? WHERE id = ?`, ms(at), id)
}

// RecordSignInFailure implements checkout.OperatorStore.
func (db *DB) RecordSignInFailure(ctx context.Context, keys []string, attempt string, at, forget time.Time) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM signin_failures WHERE at < ?`, ms(forget)); err != nil {
			return err
		}
		for _, k := range keys {
			if _, err := tx.ExecContext(ctx, `INSERT INTO signin_failures (key, at, attempt) VALUES (?, ?, ?)`, k, ms(at), attempt); err != nil {
				return err
			}
		}
		return nil
	})
}

// ForgetSignInAttempt implements checkout.OperatorStore.
func (db *DB) ForgetSignInAttempt(ctx context.Context, attempt string) error {
	_, err := db.exec(ctx, `DELETE FROM signin_failures WHERE attempt = ?`, attempt)
	return err
}

// SignInFailures implements checkout.OperatorStore.
func (db *DB) SignInFailures(ctx context.Context, key string, since time.Time) (int, error) {
	var n int
	err := db.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM signin_failures WHERE key = ? AND at >= ?`, key, ms(since)).Scan(&n)
	return n, err
}

// ClearSignInFailures implements checkout.OperatorStore.
func (db *DB) ClearSignInFailures(ctx context.Context, key string) error {
	_, err := db.exec(ctx, `DELETE FROM signin_failures WHERE key = ?`, key)
	return err
}
