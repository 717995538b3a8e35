SELECT COALESCE(SUM(-balance), 0)::text FROM accounts WHERE balance < 0
