SELECT identity, public_key, sealed_secret, created_at FROM custodial_keys
WHERE identity = $1
