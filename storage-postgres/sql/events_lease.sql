WITH picked AS (SELECT seq FROM outbox WHERE available_at <= $2
ORDER BY available_at, seq LIMIT $3 FOR UPDATE SKIP LOCKED)
UPDATE outbox o SET available_at = $1, attempts = o.attempts + 1
FROM picked JOIN events e ON e.seq = picked.seq WHERE o.seq = picked.seq
RETURNING o.seq, e.body, o.attempts
