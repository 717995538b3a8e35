INSERT INTO posts (id, author, kind, topic, body) VALUES ($1, $2, $3, $4, $5)
