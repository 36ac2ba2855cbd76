-- +goose Up
CREATE TABLE merchants (
    id         text PRIMARY KEY,
    name       text NOT NULL,
    created_at timestamptz NOT NULL
);

CREATE TABLE api_keys (
    id           text PRIMARY KEY,
    merchant_id  text NOT NULL REFERENCES merchants (id),
    secret_hash  bytea NOT NULL UNIQUE,
    prefix       text NOT NULL,
    livemode     boolean NOT NULL,
    created_at   timestamptz NOT NULL,
    last_used_at timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX api_keys_merchant ON api_keys (merchant_id);

CREATE TABLE payment_methods (
    id               text PRIMARY KEY,
    merchant_id      text NOT NULL REFERENCES merchants (id),
    type             text NOT NULL CHECK (type IN ('card', 'wallet')),
    livemode         boolean NOT NULL,
    card_brand       text,
    card_funding     text,
    card_first6      text,
    card_last4       text,
    card_exp_month   integer,
    card_exp_year    integer,
    card_fingerprint text,
    card_holder_name text,
    wallet_type      text,
    enc_key_id       text,
    enc_dek          bytea,
    enc_data         bytea,
    created_at       timestamptz NOT NULL
);
CREATE INDEX payment_methods_merchant ON payment_methods (merchant_id, id);
CREATE INDEX payment_methods_enc_key ON payment_methods (enc_key_id);

CREATE TABLE payments (
    id                  text PRIMARY KEY,
    merchant_id         text NOT NULL REFERENCES merchants (id),
    amount              bigint NOT NULL CHECK (amount BETWEEN 1 AND 99999999),
    currency            text NOT NULL CHECK (length(currency) = 3),
    status              text NOT NULL CHECK (status IN ('requires_payment_method', 'requires_confirmation',
                            'requires_action', 'processing', 'requires_capture', 'succeeded', 'failed', 'canceled')),
    capture_method      text NOT NULL CHECK (capture_method IN ('automatic', 'manual')),
    amount_capturable   bigint NOT NULL DEFAULT 0 CHECK (amount_capturable BETWEEN 0 AND amount),
    amount_received     bigint NOT NULL DEFAULT 0 CHECK (amount_received BETWEEN 0 AND amount),
    amount_refunded     bigint NOT NULL DEFAULT 0 CHECK (amount_refunded BETWEEN 0 AND amount_received),
    description         text NOT NULL DEFAULT '',
    metadata            jsonb NOT NULL DEFAULT '{}',
    payment_method_id   text REFERENCES payment_methods (id),
    return_url          text NOT NULL DEFAULT '',
    next_action_url     text NOT NULL DEFAULT '',
    failure_code        text NOT NULL DEFAULT '',
    decline_code        text NOT NULL DEFAULT '',
    failure_message     text NOT NULL DEFAULT '',
    cancellation_reason text NOT NULL DEFAULT '',
    connector           text NOT NULL,
    connector_reference text NOT NULL DEFAULT '',
    processor_id        text NOT NULL DEFAULT '',
    pending_operation   text NOT NULL DEFAULT '',
    pending_amount      bigint NOT NULL DEFAULT 0,
    resume_status       text NOT NULL DEFAULT '',
    livemode            boolean NOT NULL,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    canceled_at         timestamptz
);
-- Lists are per merchant, newest first; ids sort by creation time.
CREATE INDEX payments_merchant_id ON payments (merchant_id, id DESC);
CREATE INDEX payments_merchant_status ON payments (merchant_id, status, id DESC);
-- The recovery worker scans only payments stuck in processing.
CREATE INDEX payments_processing ON payments (updated_at) WHERE status = 'processing';

CREATE TABLE events (
    id          text PRIMARY KEY,
    merchant_id text NOT NULL REFERENCES merchants (id),
    type        text NOT NULL,
    object_id   text NOT NULL,
    livemode    boolean NOT NULL,
    data        jsonb NOT NULL,
    created_at  timestamptz NOT NULL
);
CREATE INDEX events_merchant ON events (merchant_id, id DESC);
CREATE INDEX events_object ON events (merchant_id, object_id, id DESC);

-- +goose Down
DROP TABLE events;
DROP TABLE payments;
DROP TABLE payment_methods;
DROP TABLE api_keys;
DROP TABLE merchants;
