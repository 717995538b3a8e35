INSERT INTO custodial_keys (identity, public_key, sealed_secret, created_at)
VALUES ($1, $2, $3, $4) ON CONFLICT (identity) DO NOTHING
