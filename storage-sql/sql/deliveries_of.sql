SELECT id, event_seq, recipient, channel, event, body, created_at, status, attempts,
       available_at, finished_at
FROM deliveries WHERE recipient = $1 AND id < $2 ORDER BY id DESC LIMIT $3
