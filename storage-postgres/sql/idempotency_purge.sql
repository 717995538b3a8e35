DELETE FROM idempotency WHERE (caller, key) IN
(SELECT caller, key FROM idempotency WHERE created_at < $1 ORDER BY created_at LIMIT $2)
