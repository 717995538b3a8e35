INSERT INTO idempotency (caller, key, fingerprint, response, created_at, running_until)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (caller, key) DO UPDATE SET fingerprint = excluded.fingerprint,
response = excluded.response, created_at = excluded.created_at,
running_until = excluded.running_until
