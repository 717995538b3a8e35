DELETE FROM idempotency WHERE rowid IN
(SELECT rowid FROM idempotency WHERE created_at < ? ORDER BY created_at LIMIT ?)
