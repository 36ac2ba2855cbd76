-- +goose Up
-- A merchant's webhook endpoints. The signing secret is needed in clear to
-- sign, so it is stored sealed like card data (vault envelope encryption),
-- and re-encrypted by `paygate keys rotate`. During a secret rotation the
-- previous secret keeps signing until previous_expires_at.
CREATE TABLE webhook_endpoints (
    id                   TEXT PRIMARY KEY,
    merchant_id          TEXT NOT NULL REFERENCES merchants (id),
    url                  TEXT NOT NULL,
    description          TEXT NOT NULL DEFAULT '',
    -- "*" for every type, else ",type,type," so that one LIKE matches a type.
    enabled_events       TEXT NOT NULL,
    status               TEXT NOT NULL CHECK (status IN ('enabled', 'disabled')),
    livemode             BOOLEAN NOT NULL,
    secret_key_id        TEXT NOT NULL,
    secret_dek           BLOB NOT NULL,
    secret_data          BLOB NOT NULL,
    previous_key_id      TEXT,
    previous_dek         BLOB,
    previous_data        BLOB,
    previous_expires_at  TIMESTAMP,
    created_at           TIMESTAMP NOT NULL,
    updated_at           TIMESTAMP NOT NULL
);
CREATE INDEX webhook_endpoints_merchant ON webhook_endpoints (merchant_id, id DESC);

-- One row per (endpoint, event) to deliver, written in the transaction of
-- the event itself, so an event can never be committed without its
-- deliveries. A worker claims a due row by setting locked_until (its lease)
-- and counting the attempt, so two instances never send one attempt twice.
CREATE TABLE webhook_deliveries (
    endpoint_id       TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id          TEXT NOT NULL REFERENCES events (id),
    merchant_id       TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts          INTEGER NOT NULL DEFAULT 0,
    next_attempt_at   TIMESTAMP NOT NULL,
    locked_until      TIMESTAMP,
    last_status_code  INTEGER NOT NULL DEFAULT 0,
    last_error        TEXT NOT NULL DEFAULT '',
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL,
    PRIMARY KEY (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id);

-- Every attempt, for the merchant to see why a delivery failed.
CREATE TABLE webhook_attempts (
    id           TEXT PRIMARY KEY,
    endpoint_id  TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    attempted_at TIMESTAMP NOT NULL,
    status_code  INTEGER NOT NULL,
    duration_ms  INTEGER NOT NULL,
    error        TEXT NOT NULL DEFAULT '',
    FOREIGN KEY (endpoint_id, event_id) REFERENCES webhook_deliveries (endpoint_id, event_id) ON DELETE CASCADE
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (endpoint_id, event_id, id DESC);

-- +goose Down
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_endpoints;
