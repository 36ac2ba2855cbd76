-- +goose Up
-- The retention job deletes webhook attempts older than
-- PAYGATE_WEBHOOK_ATTEMPT_RETENTION, a batch at a time, oldest first: without
-- this index each batch would scan the table. (Idempotency keys have theirs,
-- on created_at; expired customer links are found through the partial
-- index of live tokens, payments_action_token.)
CREATE INDEX webhook_attempts_attempted ON webhook_attempts (attempted_at);

-- +goose Down
DROP INDEX webhook_attempts_attempted;
