-- Stores settings unless the identity has some; either way the stored row comes back.
INSERT INTO webhooks (identity, sealed_secret, events, updated_at) VALUES ($1, $2, $3, $4)
ON CONFLICT (identity) DO UPDATE SET identity = webhooks.identity
RETURNING identity, sealed_secret, events, updated_at
