SELECT body FROM rules WHERE id = $1
