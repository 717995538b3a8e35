-- Every uploader of a blob holds it (may read it), not only the first.
CREATE TABLE blob_holders (
    hash     TEXT NOT NULL,
    identity TEXT NOT NULL,
    PRIMARY KEY (hash, identity)
);
INSERT INTO blob_holders (hash, identity)
    SELECT hash, body::jsonb ->> 'uploader' FROM blobs
    ON CONFLICT DO NOTHING;
-- A blob no delivery names is collected after a grace period; one a delivery names is kept.
-- Records made before deliveries marked what they name are all kept.
UPDATE blobs SET body = jsonb_set(body::jsonb, '{referenced}', 'true')::text;
