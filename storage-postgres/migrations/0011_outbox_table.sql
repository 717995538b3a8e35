-- The outbox's delivery state in a table of its own: an undelivered event's row, with when
-- it may next be leased and how often it has been. A lease or a retry rewrites these three
-- integers, not the event's row with its body (the task as the command left it); a
-- completion deletes the row, so the table holds only what is still to fan out. A command
-- writes an event's outbox row with the event (`write_events`). `events` keeps
-- `available_at` as when the event was first due.
CREATE TABLE outbox (
    seq          BIGINT PRIMARY KEY,
    available_at BIGINT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0
);
INSERT INTO outbox (seq, available_at, attempts)
    SELECT seq, available_at, attempts FROM events WHERE NOT done;
DROP INDEX outbox_pending;
ALTER TABLE events DROP COLUMN attempts, DROP COLUMN done;
CREATE INDEX outbox_due ON outbox (available_at, seq);
