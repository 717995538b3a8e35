-- A profile update replaces its capabilities, and deleting a rule deletes its tags: both
-- by the second column of the primary key, which needs an index of its own to not scan
-- every agent's (every rule's) rows. Found by seeding 100,000 agents.
CREATE INDEX profile_capabilities_by_identity ON profile_capabilities (identity);
CREATE INDEX rule_tags_by_rule ON rule_tags (rule_id);
