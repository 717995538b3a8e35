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
INSERT INTO accounts (identity, balance, escrowed, credit_limit, created_at)
SELECT j.value->>'identity', j.value->>'balance', j.value->>'escrowed',
j.value->>'credit_limit', j.value->>'created_at'
FROM json_each(?) j WHERE true
ON CONFLICT (identity) DO UPDATE SET balance = excluded.balance,
escrowed = excluded.escrowed, credit_limit = excluded.credit_limit;
INSERT INTO reputations (identity, body)
SELECT j.value->>'identity', j.value->>'body' FROM json_each(?) j WHERE true
ON CONFLICT (identity) DO UPDATE SET body = excluded.body;
INSERT INTO ledger (account, tx_type, amount, escrow, fee, task_id, memo, created_at)
SELECT j.value->>'account', j.value->>'tx_type', j.value->>'amount', j.value->>'escrow',
j.value->>'fee', j.value->>'task_id', j.value->>'memo', j.value->>'created_at'
FROM json_each(?) j ORDER BY j.key;
INSERT INTO events (body, available_at)
SELECT j.value->>'body', j.value->>'available_at' FROM json_each(?) j ORDER BY j.key;
