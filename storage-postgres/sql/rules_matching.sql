SELECT body FROM rules WHERE id IN (SELECT rule_id FROM rule_tags
WHERE tag IN (SELECT jsonb_array_elements_text($1::jsonb))) ORDER BY created_at, id
