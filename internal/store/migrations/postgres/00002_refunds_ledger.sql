-- +goose Up
-- Refunds sent to the processor and not yet settled are reserved on the
-- payment, so that succeeded + pending refunds never exceed what was captured.
ALTER TABLE payments ADD COLUMN amount_refund_pending bigint NOT NULL DEFAULT 0;
ALTER TABLE payments ADD CONSTRAINT payments_refunds_within_received
    CHECK (amount_refund_pending >= 0 AND amount_refunded + amount_refund_pending <= amount_received);

CREATE TABLE refunds (
    id                  text PRIMARY KEY,
    merchant_id         text NOT NULL REFERENCES merchants (id),
    payment_id          text NOT NULL REFERENCES payments (id),
    amount              bigint NOT NULL CHECK (amount > 0),
    currency            text NOT NULL,
    status              text NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed', 'canceled')),
    reason              text NOT NULL DEFAULT '',
    metadata            jsonb NOT NULL DEFAULT '{}',
    failure_reason      text NOT NULL DEFAULT '',
    processor_id        text NOT NULL DEFAULT '',
    livemode            boolean NOT NULL,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL
);
CREATE INDEX refunds_merchant ON refunds (merchant_id, id DESC);
CREATE INDEX refunds_payment ON refunds (merchant_id, payment_id, id DESC);
CREATE INDEX refunds_pending ON refunds (updated_at) WHERE status = 'pending';

CREATE TABLE ledger_transactions (
    id          text PRIMARY KEY,
    merchant_id text NOT NULL REFERENCES merchants (id),
    kind        text NOT NULL CHECK (kind IN ('capture', 'refund_created', 'refund_succeeded', 'refund_failed')),
    object_id   text NOT NULL,
    currency    text NOT NULL,
    livemode    boolean NOT NULL,
    created_at  timestamptz NOT NULL
);
CREATE INDEX ledger_transactions_object ON ledger_transactions (object_id);

CREATE TABLE ledger_entries (
    transaction_id text NOT NULL REFERENCES ledger_transactions (id),
    account        text NOT NULL CHECK (account IN ('cardholders', 'merchant_balance', 'refunds_pending')),
    merchant_id    text NOT NULL,
    currency       text NOT NULL,
    amount         bigint NOT NULL CHECK (amount <> 0),
    PRIMARY KEY (transaction_id, account)
);
CREATE INDEX ledger_entries_account ON ledger_entries (merchant_id, currency, account);

-- +goose Down
DROP TABLE ledger_entries;
DROP TABLE ledger_transactions;
DROP TABLE refunds;
ALTER TABLE payments DROP CONSTRAINT payments_refunds_within_received;
ALTER TABLE payments DROP COLUMN amount_refund_pending;
