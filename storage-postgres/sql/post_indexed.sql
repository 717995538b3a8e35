INSERT INTO search_index (item_id, kind, tsv) VALUES ($1, 'post', to_tsvector('simple', $2))
