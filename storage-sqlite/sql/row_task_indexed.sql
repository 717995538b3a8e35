INSERT INTO search_index (item_id, kind, body) VALUES (?, 'task', ?)
