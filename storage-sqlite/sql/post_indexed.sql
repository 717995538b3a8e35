INSERT INTO search_index (item_id, kind, body) VALUES ($1, 'post', $2)
