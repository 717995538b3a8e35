-- Makes a leased event due again at `$1`, if the lease `$3` is still the latest.
UPDATE outbox SET available_at = $1 WHERE seq = $2 AND attempts = $3
