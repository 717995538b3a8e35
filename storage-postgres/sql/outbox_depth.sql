SELECT count(*) FROM events WHERE NOT done
