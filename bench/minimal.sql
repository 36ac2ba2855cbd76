\set amount random(100, 99999)
\set seq :seq + 1
\set r :seq * 1000 + :client_id

\startpipeline
BEGIN;
INSERT INTO bench_minimal (id, amount, status) VALUES ('pay_' || lpad(:r::text, 19, '0'), :amount, 'processing');
COMMIT;
\endpipeline

\startpipeline
BEGIN;
SELECT status FROM bench_minimal WHERE id = 'pay_' || lpad(:r::text, 19, '0') FOR UPDATE;
\endpipeline
\startpipeline
UPDATE bench_minimal SET status = 'succeeded' WHERE id = 'pay_' || lpad(:r::text, 19, '0');
COMMIT;
\endpipeline
