-- Merchant webhooks: an outbox row per announced event (written in the event's transaction),
-- the log of every delivery attempt, what applications need for secret rotation and for an
-- endpoint disabled by 410 Gone, and the demo store's own record of what it received.

CREATE TABLE webhook_deliveries (
    id              TEXT PRIMARY KEY,          -- the webhook-id, the same on every retry
    client_id       TEXT NOT NULL REFERENCES apps (client_id),
    payment_id      TEXT NOT NULL REFERENCES payments (id),
    event_seq       BIGINT NOT NULL,           -- the event announced (events.seq)
    type            TEXT NOT NULL,             -- the webhook type, e.g. payment.paid
    event_at        BIGINT NOT NULL,
    status          TEXT NOT NULL,             -- pending, delivered, failed
    body            TEXT,                      -- frozen before the first send
    tries           INTEGER NOT NULL DEFAULT 0, -- attempts in the current round (redelivery resets)
    next_attempt_at BIGINT,
    lease_until     BIGINT,
    lease_owner     TEXT NOT NULL DEFAULT '',
    last_error      TEXT NOT NULL DEFAULT '',
    delivered_at    BIGINT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE UNIQUE INDEX webhook_deliveries_event ON webhook_deliveries (event_seq);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_payment ON webhook_deliveries (payment_id, created_at);
CREATE INDEX webhook_deliveries_delivered ON webhook_deliveries (status, delivered_at);

CREATE TABLE webhook_attempts (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id TEXT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    at          BIGINT NOT NULL,
    url         TEXT NOT NULL,
    http_status INTEGER NOT NULL DEFAULT 0,
    error       TEXT NOT NULL DEFAULT '',
    duration_ms BIGINT NOT NULL,
    response    TEXT NOT NULL DEFAULT ''       -- the first 1 KB of the answer
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, at);

ALTER TABLE apps ADD COLUMN webhook_secret_previous TEXT NOT NULL DEFAULT '';
ALTER TABLE apps ADD COLUMN webhook_secret_rotated_at BIGINT;
ALTER TABLE apps ADD COLUMN webhook_disabled_at BIGINT;
ALTER TABLE apps ADD COLUMN webhook_disabled_reason TEXT NOT NULL DEFAULT '';

-- The demo store is a merchant like any other: its orders and the webhooks it received.
CREATE TABLE demo_orders (
    reference  TEXT PRIMARY KEY,
    payment_id TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE demo_webhooks (
    webhook_id  TEXT PRIMARY KEY,
    payment_id  TEXT NOT NULL,
    type        TEXT NOT NULL,
    verified    INTEGER NOT NULL,
    error       TEXT NOT NULL DEFAULT '',
    received_at BIGINT NOT NULL
);
CREATE INDEX demo_webhooks_payment ON demo_webhooks (payment_id, received_at);
