-- +goose Up
-- As on PostgreSQL: storing an answer no longer touches an index for key
-- rotation, which scans the table instead. (The foreign keys to merchants
-- and the fill factors are PostgreSQL's matter: SQLite has one writer, no
-- row locks, and no HOT updates; dropping a key would rebuild the table.)
DROP INDEX idempotency_keys_sealed;

-- +goose Down
CREATE INDEX idempotency_keys_sealed ON idempotency_keys (response_key_id) WHERE response_key_id IS NOT NULL;
