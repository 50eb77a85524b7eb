-- Money safety (issue 10).
--
-- live_key holds "payment|provider|method" while an attempt may still create or collect money
-- at its provider (creating, pending, authorized, review) and NULL otherwise. Its unique index
-- lets at most one such attempt exist per payment, provider and method, whichever instance
-- inserts it: concurrent instructions calls and double-submitted Pay buttons share one provider
-- order. Rows from before this migration keep NULL, so existing data never fails the index.
ALTER TABLE attempts ADD COLUMN live_key TEXT;
CREATE UNIQUE INDEX attempts_live_key ON attempts (live_key);

-- A claimed idempotency key is held for a short lease while its request runs; a request that
-- crashed without finishing frees its key when the lease ends instead of blocking it for a day.
ALTER TABLE idempotency_keys ADD COLUMN lease_until BIGINT;
