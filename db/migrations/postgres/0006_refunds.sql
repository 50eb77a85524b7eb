-- Refunds: money given back from one paid attempt, asked of the provider's refund API
-- (pending until it answers) or returned by an operator in the provider's portal (manual
-- until confirmed). Pending refunds are polled by a job that claims each row with a lease.
-- PostgreSQL twin of migrations/sqlite/0006_refunds.sql.
CREATE TABLE refunds (
    id            TEXT PRIMARY KEY,
    payment_id    TEXT NOT NULL REFERENCES payments (id),
    attempt_id    TEXT NOT NULL REFERENCES attempts (id),
    provider      TEXT NOT NULL,
    amount        BIGINT NOT NULL CHECK (amount > 0),
    currency      TEXT NOT NULL,
    reason        TEXT NOT NULL,
    note          TEXT NOT NULL DEFAULT '',
    status        TEXT NOT NULL,
    provider_ref  TEXT NOT NULL DEFAULT '',
    error         TEXT NOT NULL DEFAULT '',
    requested_by  TEXT NOT NULL DEFAULT '',
    checks        INTEGER NOT NULL DEFAULT 0,
    next_check_at BIGINT,
    lease_owner   TEXT,
    lease_until   BIGINT,
    succeeded_at  BIGINT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX refunds_payment ON refunds (payment_id, created_at);
CREATE INDEX refunds_due ON refunds (status, next_check_at);
