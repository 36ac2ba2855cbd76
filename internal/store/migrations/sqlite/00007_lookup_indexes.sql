-- +goose Up
-- A lookup by id, "WHERE merchant_id = $1 AND id = $2", must use the
-- primary key. While a table is young (no statistics yet), PostgreSQL's
-- planner costs every index that starts with merchant_id the same, and it
-- took payments_merchant_status, whose id comes after status: that scans
-- every payment of the merchant, a cost that grows with the table. Cached
-- plans kept the choice. Secondary indexes now either have id right after
-- merchant_id or do not start with merchant_id. The status filter on lists
-- walks (merchant_id, id DESC) and filters: a page needs page-size rows.
DROP INDEX payments_merchant_status;
DROP INDEX events_object;
CREATE INDEX events_object ON events (object_id, id DESC);
DROP INDEX refunds_payment;
CREATE INDEX refunds_payment ON refunds (payment_id, id DESC);

-- +goose Down
DROP INDEX refunds_payment;
CREATE INDEX refunds_payment ON refunds (merchant_id, payment_id, id DESC);
DROP INDEX events_object;
CREATE INDEX events_object ON events (merchant_id, object_id, id DESC);
CREATE INDEX payments_merchant_status ON payments (merchant_id, status, id DESC);
