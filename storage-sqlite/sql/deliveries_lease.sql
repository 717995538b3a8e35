UPDATE deliveries SET available_at = ?1, attempts = attempts + 1 WHERE id IN
(SELECT id FROM deliveries WHERE status = 'pending' AND available_at <= ?2
ORDER BY available_at, id LIMIT ?3) RETURNING *
