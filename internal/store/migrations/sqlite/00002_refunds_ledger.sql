-- +goose Up
-- Refunds sent to the processor and not yet settled are reserved on the
-- payment, so that succeeded + pending refunds never exceed what was captured.
ALTER TABLE payments ADD COLUMN amount_refund_pending INTEGER NOT NULL DEFAULT 0
    CHECK (amount_refund_pending >= 0 AND amount_refunded + amount_refund_pending <= amount_received);

CREATE TABLE refunds (
    id                  TEXT PRIMARY KEY,
    merchant_id         TEXT NOT NULL REFERENCES merchants (id),
    payment_id          TEXT NOT NULL REFERENCES payments (id),
    amount              INTEGER NOT NULL CHECK (amount > 0),
    currency            TEXT NOT NULL,
    status              TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed', 'canceled')),
    reason              TEXT NOT NULL DEFAULT '',
    metadata            TEXT NOT NULL DEFAULT '{}',
    failure_reason      TEXT NOT NULL DEFAULT '',
    processor_id        TEXT NOT NULL DEFAULT '',
    livemode            BOOLEAN NOT NULL,
    created_at          TIMESTAMP NOT NULL,
    updated_at          TIMESTAMP NOT NULL
);
CREATE INDEX refunds_merchant ON refunds (merchant_id, id DESC);
CREATE INDEX refunds_payment ON refunds (merchant_id, payment_id, id DESC);
CREATE INDEX refunds_pending ON refunds (updated_at) WHERE status = 'pending';

CREATE TABLE ledger_transactions (
    id          TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    kind        TEXT NOT NULL CHECK (kind IN ('capture', 'refund_created', 'refund_succeeded', 'refund_failed')),
    object_id   TEXT NOT NULL,
    currency    TEXT NOT NULL,
    livemode    BOOLEAN NOT NULL,
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX ledger_transactions_object ON ledger_transactions (object_id);

CREATE TABLE ledger_entries (
    transaction_id TEXT NOT NULL REFERENCES ledger_transactions (id),
    account        TEXT NOT NULL CHECK (account IN ('cardholders', 'merchant_balance', 'refunds_pending')),
    merchant_id    TEXT NOT NULL,
    currency       TEXT NOT NULL,
    amount         INTEGER NOT NULL CHECK (amount <> 0),
    PRIMARY KEY (transaction_id, account)
);
CREATE INDEX ledger_entries_account ON ledger_entries (merchant_id, currency, account);

-- +goose Down
DROP TABLE ledger_entries;
DROP TABLE ledger_transactions;
DROP TABLE refunds;
ALTER TABLE payments DROP COLUMN amount_refund_pending;
