-- Every uploader of a blob holds it (may read it), not only the first.
CREATE TABLE blob_holders (
    hash     TEXT NOT NULL,
    identity TEXT NOT NULL,
    PRIMARY KEY (hash, identity)
) WITHOUT ROWID;
INSERT OR IGNORE INTO blob_holders (hash, identity)
    SELECT hash, json_extract(body, '$.uploader') FROM blobs;
-- A blob no delivery names is collected after a grace period; one a delivery names is kept.
-- Records made before deliveries marked what they name are all kept.
UPDATE blobs SET body = json_set(body, '$.referenced', json('true'));
