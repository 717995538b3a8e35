SELECT prefix FROM api_keys WHERE identity = $1 AND revoked_at IS NULL FOR UPDATE
