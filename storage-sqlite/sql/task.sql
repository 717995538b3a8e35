SELECT body FROM tasks WHERE id = ?
