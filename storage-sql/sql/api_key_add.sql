INSERT INTO api_keys (hash, prefix, identity, created_at, revoked_at)
VALUES ($1, $2, $3, $4, $5) ON CONFLICT (hash) DO NOTHING
