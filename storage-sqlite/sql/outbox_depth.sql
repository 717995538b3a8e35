SELECT count(*) FROM events WHERE done = 0
