-- Dashboard operators (people who sign in to /dashboard), the failed sign-ins that throttle
-- guessing, and revocation of OAuth clients.
CREATE TABLE operators (
    id                  TEXT PRIMARY KEY,
    email               TEXT NOT NULL UNIQUE,
    password_hash       TEXT NOT NULL,
    password_changed_at BIGINT NOT NULL,
    disabled_at         BIGINT,
    last_sign_in_at     BIGINT,
    created_at          BIGINT NOT NULL
);

-- One row per failed sign-in per key ("account:<email>" and "address:<ip>"); rows older than
-- the throttle window are deleted as new ones are written.
CREATE TABLE signin_failures (
    key TEXT NOT NULL,
    at  BIGINT NOT NULL
);
CREATE INDEX signin_failures_key ON signin_failures (key, at);
CREATE INDEX signin_failures_at ON signin_failures (at);

ALTER TABLE oauth_clients ADD COLUMN revoked_at BIGINT;

CREATE INDEX payments_created ON payments (created_at);
CREATE INDEX payments_reference ON payments (reference);
CREATE INDEX payments_paid ON payments (paid_at);
