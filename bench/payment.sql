-- pgbench script: the durable work of one paygate payment (POST /v1/payments
-- with confirm: true, automatic capture), as the SPEC's limit defines it, on
-- paygate's own tables (`paygate migrate`): two transactions, two commits.
-- bench/run.sh runs it with -M prepared against a merchant 'mer_pgbench';
-- each run of the script is one payment.
--
-- bench_payload holds one real answer of paygate to such a request (about
-- 620 bytes of JSON), stored as the event's data and as the idempotency
-- record's answer, as paygate stores them. (It sits in a table because
-- pgbench's prepared mode would take the colons inside a literal for
-- variables.)
\set amount random(100, 99999)
\set r random(1, 9000000000000000000)

-- 1. Claim the idempotency key and create the payment, in processing.
BEGIN;
INSERT INTO idempotency_keys (merchant_id, key, method, path, request_hash, locked_until, resource_id, created_at)
    VALUES ('mer_pgbench', 'key_' || :client_id || '_' || :r, 'POST', '/v1/payments',
            sha256(('key_' || :client_id || '_' || :r)::bytea), now() + interval '30 seconds',
            'pay_' || :client_id || '_' || :r, now());
INSERT INTO payments (id, merchant_id, amount, currency, status, capture_method, connector,
                      connector_reference, pending_operation, resume_status, livemode, created_at, updated_at)
    VALUES ('pay_' || :client_id || '_' || :r, 'mer_pgbench', CAST(:amount AS bigint), 'USD', 'processing', 'automatic', 'sandbox',
            'pay_' || :client_id || '_' || :r || ':' || 'authorize', 'authorize', 'requires_confirmation', false, now(), now());
COMMIT;

-- 2. Record the processor's answer: the payment succeeded, one ledger
-- transaction with its two entries, one event, and the request's answer.
BEGIN;
UPDATE payments SET status = 'succeeded', amount_received = CAST(:amount AS bigint), pending_operation = '',
                    resume_status = '', processor_id = 'ch_' || :r, updated_at = now()
    WHERE merchant_id = 'mer_pgbench' AND id = 'pay_' || :client_id || '_' || :r;
INSERT INTO ledger_transactions (id, merchant_id, kind, object_id, currency, livemode, created_at)
    VALUES ('ltx_' || :client_id || '_' || :r, 'mer_pgbench', 'capture', 'pay_' || :client_id || '_' || :r, 'USD', false, now());
INSERT INTO ledger_entries (transaction_id, account, merchant_id, currency, amount)
    VALUES ('ltx_' || :client_id || '_' || :r, 'cardholders', 'mer_pgbench', 'USD', -CAST(:amount AS bigint));
INSERT INTO ledger_entries (transaction_id, account, merchant_id, currency, amount)
    VALUES ('ltx_' || :client_id || '_' || :r, 'merchant_balance', 'mer_pgbench', 'USD', CAST(:amount AS bigint));
INSERT INTO events (id, merchant_id, type, object_id, livemode, data, created_at)
    SELECT 'evt_' || :client_id || '_' || :r, 'mer_pgbench', 'payment.succeeded', 'pay_' || :client_id || '_' || :r, false, data, now()
    FROM bench_payload;
UPDATE idempotency_keys SET response_status = 201, locked_until = NULL,
    response_body = (SELECT answer FROM bench_payload)
    WHERE merchant_id = 'mer_pgbench' AND key = 'key_' || :client_id || '_' || :r;
COMMIT;
