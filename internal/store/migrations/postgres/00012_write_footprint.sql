-- +goose Up
-- Less written per payment (bench/payment.sql against bench/minimal.sql).
--
-- A foreign key check locks the row it points at (FOR KEY SHARE): every
-- payment, card, event, ledger transaction, balance and idempotency key of
-- a merchant locked the merchant's one row, and concurrent lockers of one
-- row make PostgreSQL create a MultiXact and log the lock, several times a
-- payment. A merchant's rows are made only after its API key was found,
-- and merchants are never deleted, so these keys guarded nothing a request
-- could break. The keys within a payment (its card, attempts, entries)
-- stay: they lock rows that the same transaction wrote.
ALTER TABLE payments DROP CONSTRAINT payments_merchant_id_fkey;
ALTER TABLE payment_methods DROP CONSTRAINT payment_methods_merchant_id_fkey;
ALTER TABLE events DROP CONSTRAINT events_merchant_id_fkey;
ALTER TABLE ledger_transactions DROP CONSTRAINT ledger_transactions_merchant_id_fkey;
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_merchant_id_fkey;
ALTER TABLE ledger_balances DROP CONSTRAINT ledger_balances_merchant_id_fkey;
ALTER TABLE refunds DROP CONSTRAINT refunds_merchant_id_fkey;
-- Storing an answer set response_key_id, a column of this partial index,
-- so the update could never be HOT: a new index entry in every index of
-- the table. Key rotation, the only reader, scans the (retention-bounded)
-- table instead.
DROP INDEX idempotency_keys_sealed;
-- Room on each page for the row's next version, so that the updates that
-- change no indexed column (the stored answer, the attempt's outcome, a
-- running balance) stay HOT: no index is touched.
ALTER TABLE idempotency_keys SET (fillfactor = 70);
ALTER TABLE payment_attempts SET (fillfactor = 70);
ALTER TABLE ledger_balances SET (fillfactor = 50);

-- +goose Down
ALTER TABLE ledger_balances RESET (fillfactor);
ALTER TABLE payment_attempts RESET (fillfactor);
ALTER TABLE idempotency_keys RESET (fillfactor);
CREATE INDEX idempotency_keys_sealed ON idempotency_keys (response_key_id) WHERE response_key_id IS NOT NULL;
ALTER TABLE refunds ADD CONSTRAINT refunds_merchant_id_fkey FOREIGN KEY (merchant_id) REFERENCES merchants (id);
ALTER TABLE ledger_balances ADD CONSTRAINT ledger_balances_merchant_id_fkey FOREIGN KEY (merchant_id) REFERENCES merchants (id);
ALTER TABLE idempotency_keys ADD CONSTRAINT idempotency_keys_merchant_id_fkey FOREIGN KEY (merchant_id) REFERENCES merchants (id);
ALTER TABLE ledger_transactions ADD CONSTRAINT ledger_transactions_merchant_id_fkey FOREIGN KEY (merchant_id) REFERENCES merchants (id);
ALTER TABLE events ADD CONSTRAINT events_merchant_id_fkey FOREIGN KEY (merchant_id) REFERENCES merchants (id);
ALTER TABLE payment_methods ADD CONSTRAINT payment_methods_merchant_id_fkey FOREIGN KEY (merchant_id) REFERENCES merchants (id);
ALTER TABLE payments ADD CONSTRAINT payments_merchant_id_fkey FOREIGN KEY (merchant_id) REFERENCES merchants (id);
