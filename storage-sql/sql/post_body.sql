SELECT body FROM posts WHERE id = $1
