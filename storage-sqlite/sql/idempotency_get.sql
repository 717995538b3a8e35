SELECT fingerprint, response, created_at, running_until FROM idempotency
WHERE caller = ? AND key = ?
