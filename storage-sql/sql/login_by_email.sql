SELECT email, password_hash, identity, created_at FROM logins WHERE email = $1
