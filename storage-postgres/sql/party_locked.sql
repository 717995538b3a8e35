SELECT a.identity, a.balance::text AS balance, a.escrowed::text AS escrowed,
a.credit_limit::text AS credit_limit, a.created_at, r.body
FROM accounts a JOIN reputations r ON r.identity = a.identity WHERE a.identity = $1 FOR UPDATE
