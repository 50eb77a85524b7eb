-- Kassa's first schema, PostgreSQL twin of sqlite/0001_init.sql. Timestamps are Unix
-- milliseconds (BIGINT) and ids are text made in Go, as there.

CREATE TABLE apps (
    client_id      TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    webhook_url    TEXT NOT NULL DEFAULT '',
    webhook_secret TEXT NOT NULL,
    created_at     BIGINT NOT NULL
);

CREATE TABLE client_tokens (
    id           TEXT PRIMARY KEY,
    client_id    TEXT NOT NULL REFERENCES apps (client_id),
    secret_hash  TEXT NOT NULL,
    scopes       TEXT NOT NULL,
    label        TEXT NOT NULL DEFAULT '',
    expires_at   BIGINT,
    revoked_at   BIGINT,
    last_used_at BIGINT,
    created_at   BIGINT NOT NULL
);
CREATE INDEX client_tokens_client ON client_tokens (client_id);

CREATE TABLE payments (
    id              TEXT PRIMARY KEY,
    client_id       TEXT NOT NULL REFERENCES apps (client_id),
    amount          BIGINT NOT NULL CHECK (amount > 0),
    currency        TEXT NOT NULL,
    reference       TEXT NOT NULL,
    reference_label TEXT NOT NULL,
    line_items      TEXT NOT NULL,
    success_url     TEXT NOT NULL DEFAULT '',
    cancel_url      TEXT NOT NULL DEFAULT '',
    customer        TEXT NOT NULL,
    metadata        TEXT NOT NULL,
    status          TEXT NOT NULL,
    expires_at      BIGINT NOT NULL,
    paid_at         BIGINT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX payments_status_expiry ON payments (status, expires_at);
CREATE INDEX payments_client_created ON payments (client_id, created_at);

CREATE TABLE attempts (
    id            TEXT PRIMARY KEY,
    payment_id    TEXT NOT NULL REFERENCES payments (id),
    provider      TEXT NOT NULL,
    method        TEXT NOT NULL DEFAULT '',
    status        TEXT NOT NULL,
    provider_ref  TEXT NOT NULL DEFAULT '',
    pay_url       TEXT NOT NULL DEFAULT '',
    amount        BIGINT NOT NULL,
    currency      TEXT NOT NULL,
    error         TEXT NOT NULL DEFAULT '',
    checks        INTEGER NOT NULL DEFAULT 0,
    next_check_at BIGINT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX attempts_payment ON attempts (payment_id, created_at);
CREATE INDEX attempts_due ON attempts (status, next_check_at);
CREATE INDEX attempts_provider_ref ON attempts (provider, provider_ref);

-- The event log is append-only: the triggers refuse to rewrite history.
CREATE TABLE events (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    payment_id TEXT NOT NULL REFERENCES payments (id),
    attempt_id TEXT NOT NULL DEFAULT '',
    type       TEXT NOT NULL,
    data       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX events_payment ON events (payment_id, seq);
CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events are append-only';
END
$$;
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
    FOR EACH ROW EXECUTE FUNCTION events_append_only();
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_append_only();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_append_only();

CREATE TABLE sessions (
    id         TEXT PRIMARY KEY,
    data       BYTEA NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expires_at);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
