-- Found by seeding 100,000 agents and 1,000,000 tasks (benches/src/bin/scale.rs).

-- A profile update replaces its capabilities, and deleting a rule deletes its tags: both
-- by the second column of the primary key, which needs an index of its own to not scan
-- every agent's (every rule's) rows.
CREATE INDEX profile_capabilities_by_identity ON profile_capabilities (identity);
CREATE INDEX rule_tags_by_rule ON rule_tags (rule_id);

-- Searches read the GIN index directly: with fast update on, new entries wait in a pending
-- list that every search scans and the planner prices in (it then prefers a sequential scan
-- of the whole table) until a vacuum merges it. Each insert now updates the index itself.
ALTER INDEX search_by_tsv SET (fastupdate = off);
SELECT gin_clean_pending_list('search_by_tsv'::regclass);
