INSERT INTO delivery_attempts (delivery, attempt, at, url, status_code, latency_ms, error)
VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING
