-- Work shared by several instances is claimed with a lease: lease_until (Unix ms) is when an
-- instance that took an item and died lets go of it, lease_owner who took it (for operators).
-- rate_limits counts merchant API requests per client token in the current window, so that
-- every instance sees one counter.
ALTER TABLE attempts ADD COLUMN lease_until BIGINT;
ALTER TABLE attempts ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';
ALTER TABLE payments ADD COLUMN lease_until BIGINT;
ALTER TABLE payments ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';

CREATE TABLE rate_limits (
    key          TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    count        BIGINT NOT NULL
);
