SELECT fingerprint, response, created_at, running_until FROM idempotency
WHERE caller = $1 AND key = $2
