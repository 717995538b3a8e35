ev AS (INSERT INTO events (body, available_at)
SELECT j->>'body', (j->>'available_at')::bigint
FROM jsonb_array_elements($5::text::jsonb) WITH ORDINALITY AS x(j, n) ORDER BY n)
