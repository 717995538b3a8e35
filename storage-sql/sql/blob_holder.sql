SELECT 1 AS held FROM blob_holders WHERE hash = $1 AND identity = $2
