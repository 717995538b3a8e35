INSERT INTO search_index (item_id, kind, body)
SELECT j.value->>'id', 'task', j.value->>'text' FROM json_each(?) j
WHERE NOT EXISTS (SELECT 1 FROM tasks t WHERE t.id = j.value->>'id');
INSERT OR IGNORE INTO task_tags (tag, task_id)
SELECT g.value, j.value->>'id' FROM json_each(?) j, json_each(j.value->'tags') g
WHERE NOT EXISTS (SELECT 1 FROM tasks t WHERE t.id = j.value->>'id');
INSERT INTO tasks (id, poster, status, skill, claimant, due_at, body, parties)
SELECT j.value->>'id', j.value->>'poster', j.value->>'status', j.value->>'skill',
j.value->>'claimant', j.value->>'due_at', j.value->>'body', j.value->'parties'
FROM json_each(?) j WHERE true
ON CONFLICT (id) DO UPDATE SET status = excluded.status, claimant = excluded.claimant,
due_at = excluded.due_at, body = excluded.body, parties = excluded.parties;
