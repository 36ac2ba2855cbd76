-- +goose Up
-- A merchant's accounts at payment processors, per mode. The credentials
-- are sealed like card data (vault envelope encryption, re-sealed by
-- `paygate keys rotate`); credentials_hint shows at most the last four
-- characters of a key. A deleted account stays (deleted_at) for the
-- captures, cancels and refunds of the payments it authorized.
CREATE TABLE connector_accounts (
    id               text PRIMARY KEY,
    merchant_id      text NOT NULL REFERENCES merchants (id),
    livemode         boolean NOT NULL,
    connector        text NOT NULL CHECK (connector IN ('sandbox', 'stripe', 'adyen')),
    label            text NOT NULL DEFAULT '',
    enabled          boolean NOT NULL,
    base_url         text NOT NULL DEFAULT '',
    credentials_hint text NOT NULL DEFAULT '',
    cred_key_id      text NOT NULL,
    cred_dek         bytea NOT NULL,
    cred_data        bytea NOT NULL,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    deleted_at       timestamptz
);
CREATE INDEX connector_accounts_merchant ON connector_accounts (merchant_id, livemode, id DESC) WHERE deleted_at IS NULL;

-- The routing of a merchant's payments in one mode: rules and fallback as
-- the API takes them (JSON).
CREATE TABLE routing (
    merchant_id text NOT NULL REFERENCES merchants (id),
    livemode    boolean NOT NULL,
    rules       text NOT NULL,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (merchant_id, livemode)
);

-- Every authorization attempt of a payment at a processor account: one
-- per account tried, so a failover shows as two. connector_account is ''
-- for the built-in sandbox.
CREATE TABLE payment_attempts (
    id                text PRIMARY KEY,
    payment_id        text NOT NULL REFERENCES payments (id),
    connector_account text NOT NULL,
    connector         text NOT NULL,
    status            text NOT NULL CHECK (status IN ('processing', 'succeeded', 'requires_action', 'failed', 'not_processed')),
    failure_code      text NOT NULL DEFAULT '',
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL
);
CREATE INDEX payment_attempts_payment ON payment_attempts (payment_id, id);

-- The account of the attempt that decided the payment ('' for the built-in
-- sandbox): its captures, cancels and refunds go there.
ALTER TABLE payments ADD COLUMN connector_account text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE payments DROP COLUMN connector_account;
DROP TABLE payment_attempts;
DROP TABLE routing;
DROP TABLE connector_accounts;
