WITH picked AS (SELECT seq FROM events WHERE NOT done AND available_at <= $2
ORDER BY available_at, seq LIMIT $3 FOR UPDATE SKIP LOCKED)
UPDATE events e SET available_at = $1, attempts = e.attempts + 1
FROM picked WHERE e.seq = picked.seq
RETURNING e.seq, e.body, e.attempts
