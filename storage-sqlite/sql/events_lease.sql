UPDATE outbox SET available_at = ?1, attempts = attempts + 1 WHERE seq IN
(SELECT seq FROM outbox WHERE available_at <= ?2 ORDER BY available_at, seq LIMIT ?3)
RETURNING seq, attempts, (SELECT body FROM events e WHERE e.seq = outbox.seq) AS body
