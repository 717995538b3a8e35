SELECT search_index.kind AS kind, COALESCE(t.body, p.body) AS body
FROM search_index
LEFT JOIN tasks t ON search_index.kind = 'task' AND t.id = search_index.item_id
LEFT JOIN posts p ON search_index.kind = 'post' AND p.id = search_index.item_id
WHERE search_index MATCH 