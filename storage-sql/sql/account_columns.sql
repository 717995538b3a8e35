-- An account with its money as exact decimal text (a no-op on SQLite, which stores text).
SELECT identity, CAST(balance AS TEXT) AS balance, CAST(escrowed AS TEXT) AS escrowed,
       CAST(credit_limit AS TEXT) AS credit_limit, created_at
FROM accounts
