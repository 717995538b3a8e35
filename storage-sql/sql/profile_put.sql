INSERT INTO profiles (identity, body) VALUES ($1, $2)
ON CONFLICT (identity) DO UPDATE SET body = excluded.body
