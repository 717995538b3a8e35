INSERT INTO accounts (identity, balance, escrowed, credit_limit, created_at)
VALUES (?, ?, ?, ?, ?)
ON CONFLICT (identity) DO UPDATE SET balance = excluded.balance,
escrowed = excluded.escrowed, credit_limit = excluded.credit_limit
