UPDATE events SET available_at = ?1, attempts = attempts + 1 WHERE seq IN
(SELECT seq FROM events WHERE done = 0 AND available_at <= ?2
ORDER BY available_at, seq LIMIT ?3)
RETURNING seq, body, attempts
