WITH t AS MATERIALIZED (SELECT body, poster, due_at, parties FROM tasks WHERE id = $1 FOR UPDATE),
ids AS (SELECT $2::text AS identity WHERE $2::text IS NOT NULL
UNION SELECT poster FROM t WHERE $3 OR due_at <= $4
UNION SELECT unnest(parties) FROM t),
p AS MATERIALIZED (SELECT a.identity, a.balance::text AS balance, a.escrowed::text AS escrowed,
a.credit_limit::text AS credit_limit, a.created_at, r.body
FROM accounts a JOIN reputations r ON r.identity = a.identity
WHERE a.identity IN (SELECT identity FROM ids) ORDER BY a.identity FOR UPDATE)
SELECT NULL AS identity, NULL AS balance, NULL AS escrowed, NULL AS credit_limit,
NULL::bigint AS created_at, body FROM t
UNION ALL SELECT * FROM p
