INSERT INTO webhooks (identity, sealed_secret, events, updated_at) VALUES ($1, $2, $3, $4)
ON CONFLICT (identity) DO UPDATE SET sealed_secret = $2, events = $3, updated_at = $4
