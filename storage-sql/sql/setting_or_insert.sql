-- The stored value, or `$2` stored now when there is none. The no-op update makes the
-- existing row come back from RETURNING.
INSERT INTO settings (name, value) VALUES ($1, $2)
ON CONFLICT (name) DO UPDATE SET value = settings.value RETURNING value
