acc AS (INSERT INTO accounts (identity, balance, escrowed, credit_limit, created_at)
SELECT j->>'identity', (j->>'balance')::numeric, (j->>'escrowed')::numeric,
(j->>'credit_limit')::numeric, (j->>'created_at')::bigint
FROM jsonb_array_elements($2::text::jsonb) AS x(j)
ON CONFLICT (identity) DO UPDATE SET balance = excluded.balance,
escrowed = excluded.escrowed, credit_limit = excluded.credit_limit)
