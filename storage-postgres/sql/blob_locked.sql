SELECT body FROM blobs WHERE hash = $1 FOR UPDATE
