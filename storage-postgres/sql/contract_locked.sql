SELECT body FROM contracts WHERE id = $1 FOR UPDATE
