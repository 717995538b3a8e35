UPDATE api_keys SET revoked_at = $1
WHERE identity = $2 AND prefix = $3 AND revoked_at IS NULL
