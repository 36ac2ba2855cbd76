-- +goose Up
-- The dashboard's list of checkout sessions, newest first, in one mode:
-- per mode, as the lists of migration 10, so a page reads about a page of
-- rows whatever the table holds.
CREATE INDEX checkout_sessions_live ON checkout_sessions (merchant_id, id DESC) WHERE livemode;
CREATE INDEX checkout_sessions_test ON checkout_sessions (merchant_id, id DESC) WHERE NOT livemode;

-- +goose Down
DROP INDEX checkout_sessions_test;
DROP INDEX checkout_sessions_live;
