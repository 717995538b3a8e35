INSERT INTO rules (id, owner, created_at, body) VALUES ($1, $2, $3, $4)
