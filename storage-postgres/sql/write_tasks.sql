t AS (SELECT (j->>'id')::uuid AS id, j, n
FROM jsonb_array_elements($1::text::jsonb) WITH ORDINALITY AS x(j, n)),
up AS (INSERT INTO tasks (id, poster, status, skill, claimant, due_at, body, parties)
SELECT id, j->>'poster', j->>'status', j->>'skill', j->>'claimant',
(j->>'due_at')::bigint, j->>'body',
ARRAY(SELECT jsonb_array_elements_text(j->'parties')) FROM t ORDER BY n
ON CONFLICT (id) DO UPDATE SET status = excluded.status, claimant = excluded.claimant,
due_at = excluded.due_at, body = excluded.body, parties = excluded.parties
RETURNING id, xmax = 0 AS inserted),
new AS (SELECT t.id, t.j FROM t JOIN up ON up.id = t.id WHERE up.inserted),
search AS (INSERT INTO search_index (item_id, kind, tsv)
SELECT id, 'task', to_tsvector('simple', j->>'text') FROM new),
tags AS (INSERT INTO task_tags (tag, task_id)
SELECT tag, id FROM new, jsonb_array_elements_text(new.j->'tags') AS tag
ON CONFLICT DO NOTHING)
