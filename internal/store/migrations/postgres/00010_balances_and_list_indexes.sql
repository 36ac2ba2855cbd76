-- +goose Up
-- Running balances, so GET /v1/balance reads a few rows however many
-- entries a merchant has. A single row per merchant, currency and account
-- would be a hot row: every payment of a busy merchant would wait for the
-- previous one's commit to update it. Each balance is instead spread over
-- counter slots; a database transaction adds its ledger entries to one slot
-- chosen at random, and a read sums the slots. `paygate ledger verify`
-- checks that the slots add up to the entries.
CREATE TABLE ledger_balances (
    merchant_id text NOT NULL REFERENCES merchants (id),
    livemode    boolean NOT NULL,
    currency    text NOT NULL,
    kind        text NOT NULL,
    account     text NOT NULL,
    slot        smallint NOT NULL CHECK (slot >= 0),
    amount      bigint NOT NULL,
    PRIMARY KEY (merchant_id, livemode, currency, kind, account, slot)
);
INSERT INTO ledger_balances (merchant_id, livemode, currency, kind, account, slot, amount)
    SELECT e.merchant_id, t.livemode, e.currency, t.kind, e.account, 0, SUM(e.amount)
    FROM ledger_entries e JOIN ledger_transactions t ON t.id = e.transaction_id
    GROUP BY e.merchant_id, t.livemode, e.currency, t.kind, e.account;
-- The balance was the only reader of this index.
DROP INDEX ledger_entries_account;

-- Every list filter reads an index that starts with the tenant, in the
-- list's order, so a page costs the same with a million rows as with ten.
-- Lists name their mode as a constant ("p.livemode" or "NOT p.livemode"),
-- and each index is partial, one per mode: a test-mode list never walks
-- live rows, and each row is in one of the pair, so the pair costs a write
-- what one index would. A lookup by id, whose mode is a parameter, cannot
-- use a partial index and keeps the primary key
-- (TestLookupByIDUsesAKeyThatStartsWithID).
-- On a database already holding millions of rows, build these first with
-- CREATE INDEX CONCURRENTLY under the same names (IF NOT EXISTS then skips
-- them), so that this migration does not hold writes while it builds.
DROP INDEX payments_merchant_id;
CREATE INDEX IF NOT EXISTS payments_live ON payments (merchant_id, id DESC) WHERE livemode;
CREATE INDEX IF NOT EXISTS payments_test ON payments (merchant_id, id DESC) WHERE NOT livemode;
-- Each status, not only the waiting ones: a list of failed payments must
-- not walk the succeeded ones.
DROP INDEX payments_waiting;
CREATE INDEX IF NOT EXISTS payments_status_live ON payments (merchant_id, status, id DESC) WHERE livemode;
CREATE INDEX IF NOT EXISTS payments_status_test ON payments (merchant_id, status, id DESC) WHERE NOT livemode;
DROP INDEX refunds_merchant;
CREATE INDEX IF NOT EXISTS refunds_live ON refunds (merchant_id, id DESC) WHERE livemode;
CREATE INDEX IF NOT EXISTS refunds_test ON refunds (merchant_id, id DESC) WHERE NOT livemode;
-- A list of one object's rows too: the planner, costing without
-- statistics, would otherwise walk the mode's index and filter.
DROP INDEX refunds_payment;
CREATE INDEX IF NOT EXISTS refunds_payment_live ON refunds (merchant_id, payment_id, id DESC) WHERE livemode;
CREATE INDEX IF NOT EXISTS refunds_payment_test ON refunds (merchant_id, payment_id, id DESC) WHERE NOT livemode;
DROP INDEX events_merchant;
CREATE INDEX IF NOT EXISTS events_live ON events (merchant_id, id DESC) WHERE livemode;
CREATE INDEX IF NOT EXISTS events_test ON events (merchant_id, id DESC) WHERE NOT livemode;
CREATE INDEX IF NOT EXISTS events_type_live ON events (merchant_id, type, id DESC) WHERE livemode;
CREATE INDEX IF NOT EXISTS events_type_test ON events (merchant_id, type, id DESC) WHERE NOT livemode;
DROP INDEX events_object;
CREATE INDEX IF NOT EXISTS events_object_live ON events (merchant_id, object_id, id DESC) WHERE livemode;
CREATE INDEX IF NOT EXISTS events_object_test ON events (merchant_id, object_id, id DESC) WHERE NOT livemode;

-- +goose Down
DROP INDEX events_object_test;
DROP INDEX events_object_live;
CREATE INDEX events_object ON events (merchant_id, object_id, id DESC);
DROP INDEX refunds_payment_test;
DROP INDEX refunds_payment_live;
CREATE INDEX refunds_payment ON refunds (merchant_id, payment_id, id DESC);
DROP INDEX events_type_test;
DROP INDEX events_type_live;
DROP INDEX events_test;
DROP INDEX events_live;
CREATE INDEX events_merchant ON events (merchant_id, id DESC);
DROP INDEX refunds_test;
DROP INDEX refunds_live;
CREATE INDEX refunds_merchant ON refunds (merchant_id, id DESC);
DROP INDEX payments_status_test;
DROP INDEX payments_status_live;
CREATE INDEX payments_waiting ON payments (merchant_id, status, id DESC)
    WHERE status IN ('requires_payment_method', 'requires_confirmation', 'requires_action', 'requires_capture');
DROP INDEX payments_test;
DROP INDEX payments_live;
CREATE INDEX payments_merchant_id ON payments (merchant_id, id DESC);
CREATE INDEX ledger_entries_account ON ledger_entries (merchant_id, currency, account);
DROP TABLE ledger_balances;
