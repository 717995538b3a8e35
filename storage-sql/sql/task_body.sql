SELECT body FROM tasks WHERE id = $1
