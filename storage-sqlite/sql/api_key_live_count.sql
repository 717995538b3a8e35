SELECT COUNT(*) FROM api_keys WHERE identity = ? AND prefix = ? AND revoked_at IS NULL
