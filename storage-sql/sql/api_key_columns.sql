SELECT hash, prefix, identity, created_at, revoked_at FROM api_keys
