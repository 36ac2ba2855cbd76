-- +goose Up
-- A payment in requires_action carries the hash of the single-use token in
-- its customer-facing link, and when the link expires.
ALTER TABLE payments ADD COLUMN action_token_hash BLOB;
ALTER TABLE payments ADD COLUMN action_expires_at TIMESTAMP;
CREATE UNIQUE INDEX payments_action_token ON payments (action_token_hash) WHERE action_token_hash IS NOT NULL;
-- The expiry job scans only payments waiting for their customer.
CREATE INDEX payments_action_expiry ON payments (action_expires_at) WHERE status = 'requires_action';

-- +goose Down
DROP INDEX payments_action_expiry;
DROP INDEX payments_action_token;
ALTER TABLE payments DROP COLUMN action_expires_at;
ALTER TABLE payments DROP COLUMN action_token_hash;
