-- +goose Up
CREATE TABLE merchants (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    merchant_id  TEXT NOT NULL REFERENCES merchants (id),
    secret_hash  BLOB NOT NULL UNIQUE,
    prefix       TEXT NOT NULL,
    livemode     BOOLEAN NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP,
    revoked_at   TIMESTAMP
);
CREATE INDEX api_keys_merchant ON api_keys (merchant_id);

CREATE TABLE payment_methods (
    id               TEXT PRIMARY KEY,
    merchant_id      TEXT NOT NULL REFERENCES merchants (id),
    type             TEXT NOT NULL CHECK (type IN ('card', 'wallet')),
    livemode         BOOLEAN NOT NULL,
    card_brand       TEXT,
    card_funding     TEXT,
    card_first6      TEXT,
    card_last4       TEXT,
    card_exp_month   integer,
    card_exp_year    integer,
    card_fingerprint TEXT,
    card_holder_name TEXT,
    wallet_type      TEXT,
    enc_key_id       TEXT,
    enc_dek          BLOB,
    enc_data         BLOB,
    created_at       TIMESTAMP NOT NULL
);
CREATE INDEX payment_methods_merchant ON payment_methods (merchant_id, id);
CREATE INDEX payment_methods_enc_key ON payment_methods (enc_key_id);

CREATE TABLE payments (
    id                  TEXT PRIMARY KEY,
    merchant_id         TEXT NOT NULL REFERENCES merchants (id),
    amount              INTEGER NOT NULL CHECK (amount BETWEEN 1 AND 99999999),
    currency            TEXT NOT NULL CHECK (length(currency) = 3),
    status              TEXT NOT NULL CHECK (status IN ('requires_payment_method', 'requires_confirmation',
                            'requires_action', 'processing', 'requires_capture', 'succeeded', 'failed', 'canceled')),
    capture_method      TEXT NOT NULL CHECK (capture_method IN ('automatic', 'manual')),
    amount_capturable   INTEGER NOT NULL DEFAULT 0 CHECK (amount_capturable BETWEEN 0 AND amount),
    amount_received     INTEGER NOT NULL DEFAULT 0 CHECK (amount_received BETWEEN 0 AND amount),
    amount_refunded     INTEGER NOT NULL DEFAULT 0 CHECK (amount_refunded BETWEEN 0 AND amount_received),
    description         TEXT NOT NULL DEFAULT '',
    metadata            TEXT NOT NULL DEFAULT '{}',
    payment_method_id   TEXT REFERENCES payment_methods (id),
    return_url          TEXT NOT NULL DEFAULT '',
    next_action_url     TEXT NOT NULL DEFAULT '',
    failure_code        TEXT NOT NULL DEFAULT '',
    decline_code        TEXT NOT NULL DEFAULT '',
    failure_message     TEXT NOT NULL DEFAULT '',
    cancellation_reason TEXT NOT NULL DEFAULT '',
    connector           TEXT NOT NULL,
    connector_reference TEXT NOT NULL DEFAULT '',
    processor_id        TEXT NOT NULL DEFAULT '',
    pending_operation   TEXT NOT NULL DEFAULT '',
    pending_amount      INTEGER NOT NULL DEFAULT 0,
    resume_status       TEXT NOT NULL DEFAULT '',
    livemode            BOOLEAN NOT NULL,
    created_at          TIMESTAMP NOT NULL,
    updated_at          TIMESTAMP NOT NULL,
    canceled_at         TIMESTAMP
);
-- Lists are per merchant, newest first; ids sort by creation time.
CREATE INDEX payments_merchant_id ON payments (merchant_id, id DESC);
CREATE INDEX payments_merchant_status ON payments (merchant_id, status, id DESC);
-- The recovery worker scans only payments stuck in processing.
CREATE INDEX payments_processing ON payments (updated_at) WHERE status = 'processing';

CREATE TABLE events (
    id          TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    type        TEXT NOT NULL,
    object_id   TEXT NOT NULL,
    livemode    BOOLEAN NOT NULL,
    data        TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX events_merchant ON events (merchant_id, id DESC);
CREATE INDEX events_object ON events (merchant_id, object_id, id DESC);

-- +goose Down
DROP TABLE events;
DROP TABLE payments;
DROP TABLE payment_methods;
DROP TABLE api_keys;
DROP TABLE merchants;
