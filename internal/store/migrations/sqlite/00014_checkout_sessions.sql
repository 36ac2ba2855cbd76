-- +goose Up
-- Hosted checkout (SPEC §9): a session is what the merchant sells, and the
-- page at its url where the customer pays. token_hash is the SHA-256 of
-- the page's token (the token itself is derived from the id with a server
-- key, never stored); attempts counts the payments the page started, the
-- last of which is payment_id; attempted_at is when the last one started.
CREATE TABLE checkout_sessions (
    id             TEXT PRIMARY KEY,
    merchant_id    TEXT NOT NULL,
    livemode       BOOLEAN NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('open', 'complete', 'expired')),
    amount         INTEGER NOT NULL,
    currency       TEXT NOT NULL,
    success_url    TEXT NOT NULL,
    cancel_url     TEXT NOT NULL,
    customer_id    TEXT,
    capture_method TEXT NOT NULL,
    metadata       TEXT NOT NULL DEFAULT '{}',
    token_hash     BLOB NOT NULL,
    payment_id     TEXT,
    attempts       INTEGER NOT NULL DEFAULT 0,
    attempted_at   TIMESTAMP,
    expires_at     TIMESTAMP NOT NULL,
    completed_at   TIMESTAMP,
    expired_at     TIMESTAMP,
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL
);
-- The page finds its session by the token's hash.
CREATE UNIQUE INDEX checkout_sessions_token ON checkout_sessions (token_hash);
-- The background round: open sessions past their expiry, and open ones
-- whose payment may have succeeded without the page hearing of it.
CREATE INDEX checkout_sessions_open ON checkout_sessions (expires_at) WHERE status = 'open';
CREATE INDEX checkout_sessions_open_paid ON checkout_sessions (payment_id) WHERE status = 'open' AND payment_id IS NOT NULL;

-- +goose Down
DROP TABLE checkout_sessions;
