-- The outbox's delivery state in a table of its own: an undelivered event's row, with when
-- it may next be leased and how often it has been. A lease or a retry rewrites these three
-- integers, not the event's row with its body (the task as the command left it); a
-- completion deletes the row, so the table holds only what is still to fan out.
CREATE TABLE outbox (
    seq          BIGINT PRIMARY KEY,
    available_at BIGINT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0
);
INSERT INTO outbox (seq, available_at, attempts)
    SELECT seq, available_at, attempts FROM events WHERE NOT done;
DROP INDEX outbox_pending;
-- A replica of an earlier release still running during an upgrade fails to lease (its
-- dispatcher logs it and the upgraded replicas deliver), rather than leasing every event
-- written since from columns nobody updates any more.
ALTER TABLE events DROP COLUMN attempts, DROP COLUMN done;
CREATE INDEX outbox_due ON outbox (available_at, seq);
-- Every event enters the outbox as it is written, whichever statement writes it — also
-- the commands of a replica of an earlier release during an upgrade. Once a statement:
-- the rows it wrote, at its end. `events` keeps `available_at` as when the event was
-- first due.
CREATE FUNCTION events_enter_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO outbox (seq, available_at) SELECT seq, available_at FROM written;
    RETURN NULL;
END
$$;
CREATE TRIGGER events_enter_outbox AFTER INSERT ON events
    REFERENCING NEW TABLE AS written
    FOR EACH STATEMENT EXECUTE FUNCTION events_enter_outbox();
