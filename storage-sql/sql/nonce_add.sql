INSERT INTO nonces (identity, nonce, kept_until) VALUES ($1, $2, $3)
ON CONFLICT (identity, nonce) DO NOTHING
