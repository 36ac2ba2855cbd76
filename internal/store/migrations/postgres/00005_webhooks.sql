-- +goose Up
-- A merchant's webhook endpoints. The signing secret is needed in clear to
-- sign, so it is stored sealed like card data (vault envelope encryption),
-- and re-encrypted by `paygate keys rotate`. During a secret rotation the
-- previous secret keeps signing until previous_expires_at.
CREATE TABLE webhook_endpoints (
    id                   text PRIMARY KEY,
    merchant_id          text NOT NULL REFERENCES merchants (id),
    url                  text NOT NULL,
    description          text NOT NULL DEFAULT '',
    -- "*" for every type, else ",type,type," so that one LIKE matches a type.
    enabled_events       text NOT NULL,
    status               text NOT NULL CHECK (status IN ('enabled', 'disabled')),
    livemode             boolean NOT NULL,
    secret_key_id        text NOT NULL,
    secret_dek           bytea NOT NULL,
    secret_data          bytea NOT NULL,
    previous_key_id      text,
    previous_dek         bytea,
    previous_data        bytea,
    previous_expires_at  timestamptz,
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL
);
CREATE INDEX webhook_endpoints_merchant ON webhook_endpoints (merchant_id, id DESC);

-- One row per (endpoint, event) to deliver, written in the transaction of
-- the event itself, so an event can never be committed without its
-- deliveries. A worker claims a due row by setting locked_until (its lease)
-- and counting the attempt, so two instances never send one attempt twice.
CREATE TABLE webhook_deliveries (
    endpoint_id       text NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id          text NOT NULL REFERENCES events (id),
    merchant_id       text NOT NULL,
    status            text NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts          integer NOT NULL DEFAULT 0,
    next_attempt_at   timestamptz NOT NULL,
    locked_until      timestamptz,
    last_status_code  integer NOT NULL DEFAULT 0,
    last_error        text NOT NULL DEFAULT '',
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    PRIMARY KEY (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id);

-- Every attempt, for the merchant to see why a delivery failed.
CREATE TABLE webhook_attempts (
    id           text PRIMARY KEY,
    endpoint_id  text NOT NULL,
    event_id     text NOT NULL,
    attempted_at timestamptz NOT NULL,
    status_code  integer NOT NULL,
    duration_ms  integer NOT NULL,
    error        text NOT NULL DEFAULT '',
    FOREIGN KEY (endpoint_id, event_id) REFERENCES webhook_deliveries (endpoint_id, event_id) ON DELETE CASCADE
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (endpoint_id, event_id, id DESC);

-- +goose Down
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_endpoints;
