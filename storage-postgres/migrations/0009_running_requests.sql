-- A request that runs beyond one command (a direct execution calling its agent) holds its
-- idempotency key while it runs: until when, or NULL once it has finished.
ALTER TABLE idempotency ADD COLUMN running_until BIGINT;
