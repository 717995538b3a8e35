-- The highest outbox sequence stored, 0 when there is none.
SELECT COALESCE(MAX(seq), 0) AS last FROM events
