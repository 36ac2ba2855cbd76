-- +goose Up
-- An idempotency record names the mode of the key that made it, and its
-- request_hash is an HMAC under a server key (mode, method, path and body,
-- length-prefixed) instead of SHA-256 of the body: the body of a create or
-- confirm holds a card number and CVC, and with the first six and last four
-- digits stored in payment_methods, an unkeyed hash could be brute-forced
-- from a copy of the database.
ALTER TABLE idempotency_keys ADD COLUMN livemode BOOLEAN NOT NULL DEFAULT 0;
-- The ring key a sealed answer (one that shows a secret) is sealed under;
-- NULL for an answer stored in clear. `paygate keys rotate` re-seals them.
ALTER TABLE idempotency_keys ADD COLUMN response_key_id TEXT;
CREATE INDEX idempotency_keys_sealed ON idempotency_keys (response_key_id) WHERE response_key_id IS NOT NULL;
-- Records written before this migration: their unkeyed hashes and their
-- answers (which may hold a customer link, and whose sealing did not bind
-- the mode) are destroyed. The key stays taken until the janitor deletes
-- it (24 hours at most): a retry under it answers 422, never a second
-- payment; an operation it left unfinished is finished by the recovery
-- worker.
UPDATE idempotency_keys SET request_hash = x'', response_status = NULL, response_body = NULL, locked_until = NULL;
-- A customer's single-use link is kept out of stored events: past event
-- snapshots lose the link's URL (the payment itself shows it).
UPDATE events SET data = json_remove(data, '$.object.next_action.redirect_to_url.url')
    WHERE json_extract(data, '$.object.next_action.redirect_to_url.url') IS NOT NULL;

-- Webhook attempt errors recorded before are the network's own words, which
-- can name internal addresses (what a host resolved to, the resolver): the
-- merchant sees them, so they become the fixed phrase of an unknown error.
UPDATE webhook_attempts SET error = 'delivery failed' WHERE error <> '' AND error NOT LIKE 'the endpoint answered %';
UPDATE webhook_deliveries SET last_error = 'delivery failed' WHERE last_error <> '' AND last_error NOT LIKE 'the endpoint answered %';

-- +goose Down
DROP INDEX idempotency_keys_sealed;
ALTER TABLE idempotency_keys DROP COLUMN response_key_id;
ALTER TABLE idempotency_keys DROP COLUMN livemode;
