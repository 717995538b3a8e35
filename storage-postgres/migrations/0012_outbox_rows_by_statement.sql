-- This release's commands write their events' outbox rows in the statement that writes the
-- events (`write_events.sql`), and say so with the setting `marketplace.outbox_written`,
-- which the store sets on each of its connections. The trigger of 0011 stays for whatever
-- else writes events — a replica of an earlier release during a rolling upgrade — and now
-- runs only for it: a row trigger whose condition is one setting's lookup, where the
-- statement trigger captured every command's events and ran its function on them.
DROP TRIGGER events_enter_outbox ON events;
CREATE OR REPLACE FUNCTION events_enter_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO outbox (seq, available_at) VALUES (NEW.seq, NEW.available_at);
    RETURN NULL;
END
$$;
CREATE TRIGGER events_enter_outbox AFTER INSERT ON events
    FOR EACH ROW
    WHEN (current_setting('marketplace.outbox_written', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION events_enter_outbox();
