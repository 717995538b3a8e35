SELECT identity, sealed_secret, events, updated_at FROM webhooks WHERE identity = $1
