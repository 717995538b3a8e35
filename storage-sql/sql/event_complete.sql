-- Marks a leased event sent, if the lease `$2` is still the latest.
UPDATE events SET done = TRUE WHERE seq = $1 AND attempts = $2 AND NOT done
