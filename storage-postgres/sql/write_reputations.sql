rep AS (INSERT INTO reputations (identity, body)
SELECT j->>'identity', j->>'body' FROM jsonb_array_elements($3::text::jsonb) AS x(j)
ON CONFLICT (identity) DO UPDATE SET body = excluded.body)
