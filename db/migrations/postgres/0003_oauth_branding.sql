-- OAuth2 client-credentials clients for dashboard operations, their short-lived access
-- tokens (hashed like client tokens), and the branding of payment applications.
CREATE TABLE oauth_clients (
    id          TEXT PRIMARY KEY,
    secret_hash TEXT NOT NULL,
    name        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE oauth_tokens (
    id          TEXT PRIMARY KEY,
    secret_hash TEXT NOT NULL,
    client_id   TEXT NOT NULL REFERENCES oauth_clients (id),
    expires_at  BIGINT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX oauth_tokens_expiry ON oauth_tokens (expires_at);

ALTER TABLE apps ADD COLUMN display_name TEXT NOT NULL DEFAULT '';
ALTER TABLE apps ADD COLUMN logo_url TEXT NOT NULL DEFAULT '';
ALTER TABLE apps ADD COLUMN accent_color TEXT NOT NULL DEFAULT '';
