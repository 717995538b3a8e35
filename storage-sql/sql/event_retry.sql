UPDATE events SET available_at = $1 WHERE seq = $2 AND attempts = $3 AND NOT done
