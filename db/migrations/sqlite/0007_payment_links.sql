-- Payment links: a reusable, shareable price from which shoppers create payments. Counters are
-- not stored: they are counted over the payments that record the link (payments.link_id), so
-- they follow a payment becoming paid, expiring or being refunded without another write.
CREATE TABLE payment_links (
    id           TEXT PRIMARY KEY,
    client_id    TEXT NOT NULL REFERENCES apps (client_id),
    name         TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    currency     TEXT NOT NULL,
    -- amount is the price of one (quantity 1): the fixed amount, or the line items' total.
    amount       BIGINT NOT NULL CHECK (amount > 0),
    line_items   TEXT NOT NULL,
    -- quantity_min = quantity_max = 1 and adjustable = 0: the shopper cannot change it.
    adjustable   INTEGER NOT NULL DEFAULT 0,
    quantity_min BIGINT NOT NULL DEFAULT 1,
    quantity_max BIGINT NOT NULL DEFAULT 1,
    max_payments BIGINT,
    expires_at   BIGINT,
    success_url  TEXT NOT NULL DEFAULT '',
    metadata     TEXT NOT NULL,
    active       INTEGER NOT NULL DEFAULT 1,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX payment_links_client_created ON payment_links (client_id, created_at);

ALTER TABLE payments ADD COLUMN link_id TEXT NOT NULL DEFAULT '';
CREATE INDEX payments_link ON payments (link_id, status);
