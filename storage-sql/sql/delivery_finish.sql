-- Moves a delivery on, if the attempt `$5` is still its latest.
UPDATE deliveries SET status = $1, available_at = $2, finished_at = $3
WHERE id = $4 AND attempts = $5 AND status = 'pending'
