ev AS (INSERT INTO events (body, available_at)
SELECT j->>'body', (j->>'available_at')::bigint
FROM jsonb_array_elements($5::text::jsonb) WITH ORDINALITY AS x(j, n) ORDER BY n
RETURNING seq, available_at),
outbox_rows AS (INSERT INTO outbox (seq, available_at) SELECT seq, available_at FROM ev)
