led AS (INSERT INTO ledger (account, tx_type, amount, escrow, fee, task_id, memo, created_at)
SELECT j->>'account', j->>'tx_type', (j->>'amount')::numeric, (j->>'escrow')::numeric,
(j->>'fee')::numeric, (j->>'task_id')::uuid, j->>'memo', (j->>'created_at')::bigint
FROM jsonb_array_elements($4::text::jsonb) WITH ORDINALITY AS x(j, n) ORDER BY n)
