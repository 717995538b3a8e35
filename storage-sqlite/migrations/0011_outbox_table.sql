-- The outbox's delivery state in a table of its own: an undelivered event's row, with when
-- it may next be leased and how often it has been. A lease or a retry rewrites these three
-- integers, not the event's row with its body (the task as the command left it); a
-- completion deletes the row, so the table holds only what is still to fan out.
CREATE TABLE outbox (
    seq          INTEGER PRIMARY KEY,
    available_at INTEGER NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0
) STRICT;
INSERT INTO outbox (seq, available_at, attempts)
    SELECT seq, available_at, attempts FROM events WHERE done = 0;
DROP INDEX outbox_pending;
CREATE INDEX outbox_due ON outbox (available_at, seq);
-- Every event enters the outbox as it is written, whichever path writes it. `events`
-- keeps `available_at` as when the event was first due; its `attempts` and `done` are no
-- longer kept up (dropping them would rewrite every event).
CREATE TRIGGER events_enter_outbox AFTER INSERT ON events BEGIN
    INSERT INTO outbox (seq, available_at) VALUES (NEW.seq, NEW.available_at);
END;
