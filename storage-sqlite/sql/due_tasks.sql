SELECT id FROM tasks WHERE due_at IS NOT NULL AND due_at <= ? ORDER BY due_at, id LIMIT ?
