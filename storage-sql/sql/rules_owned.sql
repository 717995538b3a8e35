SELECT body FROM rules WHERE owner = $1 ORDER BY created_at, id
