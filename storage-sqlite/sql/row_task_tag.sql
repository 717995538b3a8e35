INSERT OR IGNORE INTO task_tags (tag, task_id) VALUES (?, ?)
