-- Idempotency keys of merchant API POSTs: one row per application and key, holding a hash of
-- the request and, once it succeeded, the response to replay.
CREATE TABLE idempotency_keys (
    client_id       TEXT NOT NULL,
    key             TEXT NOT NULL,
    request_hash    TEXT NOT NULL,
    response_status INTEGER,
    response_body   BYTEA,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (client_id, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
