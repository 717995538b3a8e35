INSERT INTO tasks (id, poster, status, skill, claimant, due_at, body, parties)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
