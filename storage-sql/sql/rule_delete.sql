DELETE FROM rules WHERE id = $1
