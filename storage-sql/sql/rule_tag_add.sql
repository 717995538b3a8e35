INSERT INTO rule_tags (tag, rule_id) VALUES ($1, $2) ON CONFLICT DO NOTHING
