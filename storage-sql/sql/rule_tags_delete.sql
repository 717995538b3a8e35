DELETE FROM rule_tags WHERE rule_id = $1
