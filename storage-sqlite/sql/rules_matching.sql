SELECT body FROM rules WHERE id IN (SELECT rule_id FROM rule_tags
WHERE tag IN (SELECT value FROM json_each(?))) ORDER BY created_at, id
