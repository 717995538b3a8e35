SELECT a.identity, a.balance, a.escrowed, a.credit_limit, a.created_at, r.body
FROM accounts a JOIN reputations r ON r.identity = a.identity
WHERE a.identity IN (SELECT value FROM json_each(?))
