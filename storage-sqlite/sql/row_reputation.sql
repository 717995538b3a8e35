INSERT INTO reputations (identity, body) VALUES (?, ?)
ON CONFLICT (identity) DO UPDATE SET body = excluded.body
