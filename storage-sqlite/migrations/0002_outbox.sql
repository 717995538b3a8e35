-- The outbox's delivery state: when an event may next be leased, how often it has been,
-- and whether it is done. A lease moves `available_at` to the end of the lease.
ALTER TABLE events ADD COLUMN available_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN done INTEGER NOT NULL DEFAULT 0;
CREATE INDEX outbox_pending ON events (available_at, seq) WHERE done = 0;
