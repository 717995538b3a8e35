INSERT INTO contracts (id, poster, agent, body) VALUES ($1, $2, $3, $4)
ON CONFLICT (id) DO UPDATE SET body = excluded.body
