SELECT NULL AS identity, NULL AS balance, NULL AS escrowed, NULL AS credit_limit,
NULL AS created_at, body FROM tasks WHERE id = ?
UNION ALL
SELECT a.identity, a.balance, a.escrowed, a.credit_limit, a.created_at, r.body
FROM accounts a JOIN reputations r ON r.identity = a.identity
WHERE a.identity IN (
    SELECT ? WHERE ? IS NOT NULL
    UNION SELECT poster FROM tasks WHERE id = ? AND (? OR due_at <= ?)
    UNION SELECT p.value FROM tasks t, json_each(t.parties) p WHERE t.id = ?
)
