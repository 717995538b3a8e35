INSERT INTO events (body, available_at) VALUES (?, ?)
