-- +goose Up
-- The dashboard (SPEC §10): a merchant's staff users, their sessions, the
-- sign-in throttle's state, the indexes of the dashboard's payment search
-- and the daily volume of its balance chart.

-- A staff user of one merchant. The email signs in, so it is unique among
-- users not removed (stored lower-case). password_hash is an argon2id
-- PHC string; a user made by the admin API or `paygate users create` has a
-- temporary password and must_change_password until the first sign-in
-- changes it. failed_sign_ins counts the failures since the last success;
-- past the limit, locked_until refuses every sign-in of the account.
-- Removing a user (deleted_at) ends its sessions at once: a session is
-- only found through a user not removed.
CREATE TABLE staff_users (
    id                   text PRIMARY KEY,
    merchant_id          text NOT NULL REFERENCES merchants (id),
    email                text NOT NULL,
    role                 text NOT NULL CHECK (role IN ('admin', 'viewer')),
    password_hash        text NOT NULL,
    must_change_password boolean NOT NULL DEFAULT true,
    failed_sign_ins      integer NOT NULL DEFAULT 0,
    locked_until         timestamptz,
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL,
    deleted_at           timestamptz
);
CREATE UNIQUE INDEX staff_users_email ON staff_users (email) WHERE deleted_at IS NULL;
CREATE INDEX staff_users_merchant ON staff_users (merchant_id, id);

-- A signed-in browser. Only the SHA-256 of the cookie's random token is
-- stored: a reader of the database cannot sign in as anyone. livemode is
-- the mode the dashboard shows (the test/live switch).
CREATE TABLE staff_sessions (
    token_hash   bytea PRIMARY KEY,
    user_id      text NOT NULL REFERENCES staff_users (id),
    livemode     boolean NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL
);
CREATE INDEX staff_sessions_user ON staff_sessions (user_id);
CREATE INDEX staff_sessions_expires ON staff_sessions (expires_at);

-- Failed sign-ins per client address, in a window: past the limit the
-- address is refused until locked_until, whichever account it tries.
CREATE TABLE staff_sign_in_failures (
    address      text PRIMARY KEY,
    failures     integer NOT NULL,
    window_start timestamptz NOT NULL,
    locked_until timestamptz
);

-- The dashboard's payment search: by amount, by the customer's email (a
-- customer's payments), by the card's last 4 (the cards, then their
-- payments). The amount pair is per mode, as the lists of migration 10.
-- On a database already holding millions of rows, build these first with
-- CREATE INDEX CONCURRENTLY under the same names.
CREATE INDEX IF NOT EXISTS payments_amount_live ON payments (merchant_id, amount, id DESC) WHERE livemode;
CREATE INDEX IF NOT EXISTS payments_amount_test ON payments (merchant_id, amount, id DESC) WHERE NOT livemode;
CREATE INDEX IF NOT EXISTS payments_customer ON payments (merchant_id, customer_id, id DESC) WHERE customer_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS payments_payment_method ON payments (payment_method_id) WHERE payment_method_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS payment_methods_last4 ON payment_methods (merchant_id, card_last4) WHERE card_last4 IS NOT NULL;

-- Captured volume of a complete UTC day, per merchant, mode and currency,
-- for the balance chart: computed once from the ledger's capture
-- transactions (append-only, so a past day never changes) and kept. A day
-- with no capture has one row with currency '' so that it is not computed
-- again.
CREATE TABLE daily_volumes (
    merchant_id text NOT NULL,
    livemode    boolean NOT NULL,
    day         text NOT NULL, -- YYYY-MM-DD
    currency    text NOT NULL,
    amount      bigint NOT NULL,
    captures    integer NOT NULL,
    PRIMARY KEY (merchant_id, livemode, day, currency)
);

-- +goose Down
DROP TABLE daily_volumes;
DROP INDEX payment_methods_last4;
DROP INDEX payments_payment_method;
DROP INDEX payments_customer;
DROP INDEX payments_amount_test;
DROP INDEX payments_amount_live;
DROP TABLE staff_sign_in_failures;
DROP TABLE staff_sessions;
DROP TABLE staff_users;
