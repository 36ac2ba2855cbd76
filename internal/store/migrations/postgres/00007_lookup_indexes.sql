-- +goose Up
-- A lookup by id, "WHERE merchant_id = $1 AND id = $2", must use the
-- primary key. While a table is young (no statistics yet), PostgreSQL's
-- planner costs every index that starts with merchant_id the same, and it
-- took payments_merchant_status, whose id comes after status: that scans
-- every payment of the merchant, a cost that grows with the table. Cached
-- plans kept the choice. Secondary indexes now either have id right after
-- merchant_id, do not start with merchant_id, or are partial (a lookup by
-- id cannot use those).
DROP INDEX payments_merchant_status;
-- Lists filtered by a status that waits for someone (the merchant's or
-- the customer's next step) read a partial index. A payment created and
-- confirmed at once, the common case, never has such a status and writes
-- nothing to it. Lists of the other statuses walk (merchant_id, id DESC).
CREATE INDEX payments_waiting ON payments (merchant_id, status, id DESC)
    WHERE status IN ('requires_payment_method', 'requires_confirmation', 'requires_action', 'requires_capture');
DROP INDEX events_object;
CREATE INDEX events_object ON events (object_id, id DESC);
DROP INDEX refunds_payment;
CREATE INDEX refunds_payment ON refunds (payment_id, id DESC);

-- +goose Down
DROP INDEX refunds_payment;
CREATE INDEX refunds_payment ON refunds (merchant_id, payment_id, id DESC);
DROP INDEX events_object;
CREATE INDEX events_object ON events (merchant_id, object_id, id DESC);
DROP INDEX payments_waiting;
CREATE INDEX payments_merchant_status ON payments (merchant_id, status, id DESC);
