SELECT body FROM blobs WHERE hash = ?
