SELECT body FROM tasks WHERE status IN ('open', 'completed')
