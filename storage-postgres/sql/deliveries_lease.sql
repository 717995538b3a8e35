WITH picked AS (SELECT id FROM deliveries
WHERE status = 'pending' AND available_at <= $2
ORDER BY available_at, id LIMIT $3 FOR UPDATE SKIP LOCKED)
UPDATE deliveries d SET available_at = $1, attempts = d.attempts + 1
FROM picked WHERE d.id = picked.id RETURNING d.*
