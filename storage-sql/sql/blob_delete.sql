DELETE FROM blobs WHERE hash = $1
