-- Setup for payment.sql, run by bench/run.sh with psql in the throwaway
-- benchmark database after `paygate migrate`: the merchant the pgbench
-- payments belong to, and the answer they store (a real answer of paygate to
-- POST /v1/payments with confirm: true).
INSERT INTO merchants (id, name, created_at) VALUES ('mer_pgbench', 'pgbench', now());
CREATE TABLE bench_payload (data jsonb NOT NULL, answer bytea NOT NULL, dek bytea NOT NULL, pan bytea NOT NULL);
INSERT INTO bench_payload (data, answer, dek, pan)
-- The answer sealed (AES-256-GCM adds a nonce and a tag: ~28 bytes), the
-- card's data key wrapped (60 bytes) and its number sealed (~50 bytes).
SELECT j::jsonb, convert_to(j, 'UTF8') || convert_to(repeat('s', 28), 'UTF8'), convert_to(repeat('d', 60), 'UTF8'), convert_to(repeat('p', 50), 'UTF8') FROM (VALUES (
'{"id":"pay_33NRRZ5PBB4VAVH123HQCMMV1G","object":"payment","amount":2000,"amount_capturable":0,"amount_received":2000,"amount_refunded":0,"currency":"USD","status":"succeeded","capture_method":"automatic","metadata":{},"payment_method":{"id":"pm_33NRRZ5PBC3MN9Z3YRGEKB3BDC","object":"payment_method","type":"card","card":{"brand":"visa","last4":"4242","exp_month":12,"exp_year":2030,"funding":"credit","fingerprint":"ff23395b6151d3c6"},"livemode":false,"created_at":"2026-11-26T08:55:43.700504Z"},"connector":"sandbox","livemode":false,"created_at":"2026-11-26T08:55:43.700504Z","updated_at":"2026-11-26T08:55:43.702654Z"}'
)) AS v (j);

-- bench/minimal.sql's table: a payment with nothing but what it must have.
CREATE TABLE bench_minimal (id text PRIMARY KEY, amount bigint NOT NULL, status text NOT NULL);
