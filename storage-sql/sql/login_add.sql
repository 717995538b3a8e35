INSERT INTO logins (email, password_hash, identity, created_at) VALUES ($1, $2, $3, $4)
ON CONFLICT (email) DO NOTHING
