SELECT pg_advisory_xact_lock(7301, hashtext($1 || ' ' || $2)) IS NULL AS locked
