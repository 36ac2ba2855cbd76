-- +goose Up
-- A merchant's accounts at payment processors, per mode. The credentials
-- are sealed like card data (vault envelope encryption, re-sealed by
-- `paygate keys rotate`); credentials_hint shows at most the last four
-- characters of a key. A deleted account stays (deleted_at) for the
-- captures, cancels and refunds of the payments it authorized.
CREATE TABLE connector_accounts (
    id               TEXT PRIMARY KEY,
    merchant_id      TEXT NOT NULL REFERENCES merchants (id),
    livemode         BOOLEAN NOT NULL,
    connector        TEXT NOT NULL CHECK (connector IN ('sandbox', 'stripe', 'adyen')),
    label            TEXT NOT NULL DEFAULT '',
    enabled          BOOLEAN NOT NULL,
    base_url         TEXT NOT NULL DEFAULT '',
    credentials_hint TEXT NOT NULL DEFAULT '',
    cred_key_id      TEXT NOT NULL,
    cred_dek         BLOB NOT NULL,
    cred_data        BLOB NOT NULL,
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL,
    deleted_at       TIMESTAMP
);
CREATE INDEX connector_accounts_merchant ON connector_accounts (merchant_id, livemode, id DESC) WHERE deleted_at IS NULL;

-- The routing of a merchant's payments in one mode: rules and fallback as
-- the API takes them (JSON).
CREATE TABLE routing (
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    livemode    BOOLEAN NOT NULL,
    rules       TEXT NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (merchant_id, livemode)
);

-- Every authorization attempt of a payment at a processor account: one
-- per account tried, so a failover shows as two. connector_account is ''
-- for the built-in sandbox.
CREATE TABLE payment_attempts (
    id                TEXT PRIMARY KEY,
    payment_id        TEXT NOT NULL REFERENCES payments (id),
    connector_account TEXT NOT NULL,
    connector         TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('processing', 'succeeded', 'requires_action', 'failed', 'not_processed')),
    failure_code      TEXT NOT NULL DEFAULT '',
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL
);
CREATE INDEX payment_attempts_payment ON payment_attempts (payment_id, id);

-- The account of the attempt that decided the payment ('' for the built-in
-- sandbox): its captures, cancels and refunds go there.
ALTER TABLE payments ADD COLUMN connector_account TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE payments DROP COLUMN connector_account;
DROP TABLE payment_attempts;
DROP TABLE routing;
DROP TABLE connector_accounts;
