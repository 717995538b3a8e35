SELECT s.kind, COALESCE(t.body, p.body) AS body FROM search_index s
LEFT JOIN tasks t ON s.kind = 'task' AND t.id = s.item_id
LEFT JOIN posts p ON s.kind = 'post' AND p.id = s.item_id
WHERE s.tsv @@ to_tsquery('simple', 