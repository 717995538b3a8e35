INSERT INTO reputations (identity, body)
SELECT j.value->>'identity', j.value->>'body' FROM json_each(?) j WHERE true
ON CONFLICT (identity) DO UPDATE SET body = excluded.body;
