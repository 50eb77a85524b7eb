-- PostgreSQL twin of sqlite/0011_provider_health.sql (same columns and types).
-- The circuit breaker of each payment provider, shared by every Kassa instance on this
-- database (see providers/health). state is 'closed' (offered), 'open' (taken off checkout
-- pages until open_until) or 'half_open' (one instance probes it until probe_until).
-- failures counts consecutive failed calls (timeouts, 5xx, connection errors).
CREATE TABLE provider_health (
    provider    TEXT PRIMARY KEY,
    state       TEXT NOT NULL DEFAULT 'closed',
    failures    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT NOT NULL DEFAULT '',
    opened_at   BIGINT,
    open_until  BIGINT,
    probe_until BIGINT,
    updated_at  BIGINT NOT NULL
);
