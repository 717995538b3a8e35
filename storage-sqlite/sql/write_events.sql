INSERT INTO events (body, available_at)
SELECT j.value->>'body', j.value->>'available_at' FROM json_each(?) j ORDER BY j.key;
