INSERT INTO blob_holders (hash, identity) VALUES ($1, $2) ON CONFLICT DO NOTHING
