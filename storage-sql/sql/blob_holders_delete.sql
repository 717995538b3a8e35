DELETE FROM blob_holders WHERE hash = $1
