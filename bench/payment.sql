-- pgbench script: the durable work of one paygate payment (POST /v1/payments
-- with confirm: true, automatic capture, a new card), statement for
-- statement as paygate sends them on PostgreSQL (a statement log of one
-- such request), on paygate's own tables (`paygate migrate`): two
-- transactions, two commits. bench/run.sh runs it with -M prepared against
-- a merchant 'mer_pgbench'; each run of the script is one payment.
-- bench/minimal.sql is the same two commits with one small row each.
--
-- bench_payload holds one real answer of paygate to such a request (about
-- 620 bytes of JSON), stored as the events' data and, sealed (about 40
-- bytes more), as the idempotency record's answer. (It sits in a table
-- because pgbench's prepared mode would take the colons inside a literal
-- for variables.)
\set amount random(100, 99999)
\set slot random(0, 15)
-- Ids grow with time, as paygate's do (time, then randomness): every
-- client's rows go to the right edge of each id index. seq counts this
-- client's payments (bench/run.sh starts it with -D seq=0).
\set seq :seq + 1
\set r :seq * 1000 + :client_id

-- 1. The payment method (the card, its number sealed), the payment in
-- processing, the idempotency key naming it, the attempt, and the
-- payment.created event with its webhook fan-out (no endpoints here).
-- paygate pipelines a transaction's writes: one round trip, as here.
\startpipeline
BEGIN;
INSERT INTO payment_methods (id, merchant_id, type, livemode, card_brand, card_funding, card_first6, card_last4,
                             card_exp_month, card_exp_year, card_fingerprint, enc_key_id, enc_dek, enc_data, created_at)
    SELECT 'pm_' || lpad(:r::text, 19, '0'), 'mer_pgbench', 'card', false, 'visa', 'credit', '424242', '4242',
           12, 2030, 'ff23395b6151d3c6', 'k1', dek, pan, now()
    FROM bench_payload;
INSERT INTO payments (id, merchant_id, amount, currency, status, capture_method, payment_method_id, connector,
                      connector_reference, pending_operation, resume_status, livemode, created_at, updated_at)
    VALUES ('pay_' || lpad(:r::text, 19, '0'), 'mer_pgbench', CAST(:amount AS bigint), 'USD', 'processing', 'automatic',
            'pm_' || lpad(:r::text, 19, '0'), 'sandbox', 'pay_' || lpad(:r::text, 19, '0') || ':' || 'authorize',
            'authorize', 'requires_confirmation', false, now(), now());
INSERT INTO idempotency_keys (merchant_id, key, livemode, method, path, request_hash, locked_until, created_at, resource_id)
    VALUES ('mer_pgbench', 'key_' || lpad(:r::text, 19, '0'), false, 'POST', '/v1/payments',
            sha256(convert_to('key_' || :r, 'UTF8')), now() + interval '30 seconds', now(),
            'pay_' || lpad(:r::text, 19, '0'))
    ON CONFLICT (merchant_id, key) DO UPDATE SET resource_id = excluded.resource_id;
INSERT INTO payment_attempts (id, payment_id, connector_account, connector, status, failure_code, created_at, updated_at)
    VALUES ('pa_' || lpad(:r::text, 19, '0'), 'pay_' || lpad(:r::text, 19, '0'), '', 'sandbox', 'processing', '', now(), now());
WITH ev AS (INSERT INTO events (id, merchant_id, type, object_id, livemode, data, created_at)
    SELECT 'evc_' || lpad(:r::text, 19, '0'), 'mer_pgbench', 'payment.created', 'pay_' || lpad(:r::text, 19, '0'), false, data, now()
    FROM bench_payload RETURNING id)
INSERT INTO webhook_deliveries (endpoint_id, event_id, merchant_id, status, next_attempt_at, created_at, updated_at)
    SELECT w.id, ev.id, w.merchant_id, 'pending', now(), now(), now() FROM webhook_endpoints w, ev
    WHERE w.merchant_id = 'mer_pgbench' AND w.status = 'enabled' AND NOT w.livemode
      AND (w.enabled_events = '*' OR w.enabled_events LIKE '%,payment.created,%');
COMMIT;
\endpipeline

-- 2. The processor's answer: the payment (locked, then updated) succeeded,
-- its attempt settled, the payment.succeeded event, one ledger transaction
-- with its two entries, the running balance, and the request's answer.
-- Two round trips, as paygate makes them: the row lock (its answer decides
-- the writes), then the writes and the commit.
\startpipeline
BEGIN;
SELECT id FROM payments WHERE merchant_id = 'mer_pgbench' AND NOT livemode AND id = 'pay_' || lpad(:r::text, 19, '0') FOR UPDATE;
\endpipeline
\startpipeline
UPDATE payments SET status = 'succeeded', amount_received = CAST(:amount AS bigint), pending_operation = '',
                    resume_status = '', processor_id = 'ch_' || :r, updated_at = now()
    WHERE merchant_id = 'mer_pgbench' AND id = 'pay_' || lpad(:r::text, 19, '0');
UPDATE payment_attempts SET status = 'succeeded', failure_code = '', updated_at = now()
    WHERE payment_id = 'pay_' || lpad(:r::text, 19, '0') AND status IN ('processing', 'requires_action');
WITH ev AS (INSERT INTO events (id, merchant_id, type, object_id, livemode, data, created_at)
    SELECT 'evt_' || lpad(:r::text, 19, '0'), 'mer_pgbench', 'payment.succeeded', 'pay_' || lpad(:r::text, 19, '0'), false, data, now()
    FROM bench_payload RETURNING id)
INSERT INTO webhook_deliveries (endpoint_id, event_id, merchant_id, status, next_attempt_at, created_at, updated_at)
    SELECT w.id, ev.id, w.merchant_id, 'pending', now(), now(), now() FROM webhook_endpoints w, ev
    WHERE w.merchant_id = 'mer_pgbench' AND w.status = 'enabled' AND NOT w.livemode
      AND (w.enabled_events = '*' OR w.enabled_events LIKE '%,payment.succeeded,%');
INSERT INTO ledger_transactions (id, merchant_id, kind, object_id, currency, livemode, created_at)
    VALUES ('ltx_' || lpad(:r::text, 19, '0'), 'mer_pgbench', 'capture', 'pay_' || lpad(:r::text, 19, '0'), 'USD', false, now());
INSERT INTO ledger_entries (transaction_id, account, merchant_id, currency, amount)
    VALUES ('ltx_' || lpad(:r::text, 19, '0'), 'cardholders', 'mer_pgbench', 'USD', -CAST(:amount AS bigint)),
           ('ltx_' || lpad(:r::text, 19, '0'), 'merchant_balance', 'mer_pgbench', 'USD', CAST(:amount AS bigint));
INSERT INTO ledger_balances (merchant_id, livemode, currency, kind, account, slot, amount)
    VALUES ('mer_pgbench', false, 'USD', 'capture', 'cardholders', :slot, -CAST(:amount AS bigint)),
           ('mer_pgbench', false, 'USD', 'capture', 'merchant_balance', :slot, CAST(:amount AS bigint))
    ON CONFLICT (merchant_id, livemode, currency, kind, account, slot) DO UPDATE SET amount = ledger_balances.amount + excluded.amount;
UPDATE idempotency_keys SET response_status = 201, response_body = (SELECT answer FROM bench_payload), response_key_id = 'k1',
                            locked_until = NULL
    WHERE merchant_id = 'mer_pgbench' AND key = 'key_' || lpad(:r::text, 19, '0');
COMMIT;
\endpipeline
