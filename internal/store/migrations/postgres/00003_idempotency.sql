-- +goose Up
-- One row per (merchant, Idempotency-Key). While the first request runs,
-- locked_until is its lease; a row whose lease ran out without a response
-- belongs to a request that died, and the next retry takes it over.
CREATE TABLE idempotency_keys (
    merchant_id     text NOT NULL REFERENCES merchants (id),
    key             text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    method          text NOT NULL,
    path            text NOT NULL,
    request_hash    bytea NOT NULL,
    locked_until    timestamptz,
    -- The object the first attempt created (a payment or refund), written
    -- in the same transaction as the object: the recovery point a retry
    -- resumes from instead of creating a second one.
    resource_id     text,
    response_status integer,
    response_body   bytea,
    created_at      timestamptz NOT NULL,
    PRIMARY KEY (merchant_id, key)
);
-- The janitor deletes keys older than the retention period.
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- +goose Down
DROP TABLE idempotency_keys;
