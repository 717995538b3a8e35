INSERT INTO messages (id, task_id, body) VALUES ($1, $2, $3)
