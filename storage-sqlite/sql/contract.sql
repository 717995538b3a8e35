SELECT body FROM contracts WHERE id = ?
