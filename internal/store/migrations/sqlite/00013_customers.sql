-- +goose Up
-- Customers of a merchant, per mode, and the payment methods saved to them
-- (SPEC §8). Deleting a customer marks it (deleted_at): its id stays
-- known, so that a payment naming it is refused rather than misread, and
-- its saved methods are detached and their sealed card data destroyed.
CREATE TABLE customers (
    id          TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL,
    livemode    BOOLEAN NOT NULL,
    email       TEXT NOT NULL DEFAULT '',
    name        TEXT NOT NULL DEFAULT '',
    metadata    TEXT NOT NULL DEFAULT '{}',
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    deleted_at  TIMESTAMP
);
-- Lists, per mode as in migration 10; a deleted customer is in none.
CREATE INDEX customers_live ON customers (merchant_id, id DESC) WHERE livemode AND deleted_at IS NULL;
CREATE INDEX customers_test ON customers (merchant_id, id DESC) WHERE NOT livemode AND deleted_at IS NULL;
CREATE INDEX customers_email_live ON customers (merchant_id, email, id DESC) WHERE livemode AND deleted_at IS NULL;
CREATE INDEX customers_email_test ON customers (merchant_id, email, id DESC) WHERE NOT livemode AND deleted_at IS NULL;

-- A saved method names its customer; network_transaction_id is the
-- scheme's id of the customer-initiated charge that saved it, sent with
-- every merchant-initiated charge; detached_at marks a method detached
-- (its enc_dek and enc_data are then NULL: crypto-shredded).
ALTER TABLE payment_methods ADD COLUMN customer_id TEXT REFERENCES customers (id);
ALTER TABLE payment_methods ADD COLUMN network_transaction_id TEXT;
ALTER TABLE payment_methods ADD COLUMN attached_at TIMESTAMP;
ALTER TABLE payment_methods ADD COLUMN detached_at TIMESTAMP;
-- A customer's methods, and one method per card per customer.
CREATE INDEX payment_methods_customer ON payment_methods (customer_id, id DESC) WHERE customer_id IS NOT NULL;
CREATE UNIQUE INDEX payment_methods_customer_card ON payment_methods (customer_id, card_fingerprint)
    WHERE customer_id IS NOT NULL AND card_fingerprint IS NOT NULL;

-- A payment's customer (no foreign key, as for merchant_id since
-- migration 12: the lock it takes would be one more per payment), whether
-- it saves its method, and whether it is merchant-initiated.
ALTER TABLE payments ADD COLUMN customer_id TEXT;
ALTER TABLE payments ADD COLUMN setup_future_usage TEXT NOT NULL DEFAULT ''
    CHECK (setup_future_usage IN ('', 'on_session', 'off_session'));
ALTER TABLE payments ADD COLUMN off_session BOOLEAN NOT NULL DEFAULT false;

-- +goose Down
ALTER TABLE payments DROP COLUMN off_session;
ALTER TABLE payments DROP COLUMN setup_future_usage;
ALTER TABLE payments DROP COLUMN customer_id;
DROP INDEX payment_methods_customer_card;
DROP INDEX payment_methods_customer;
ALTER TABLE payment_methods DROP COLUMN detached_at;
ALTER TABLE payment_methods DROP COLUMN attached_at;
ALTER TABLE payment_methods DROP COLUMN network_transaction_id;
ALTER TABLE payment_methods DROP COLUMN customer_id;
DROP TABLE customers;
