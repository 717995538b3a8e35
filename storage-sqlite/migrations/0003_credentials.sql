-- Credentials (what proves an identity) and server settings. Only hashes of API keys and
-- passwords are kept.
CREATE TABLE api_keys (
    hash       TEXT PRIMARY KEY,
    prefix     TEXT NOT NULL,
    identity   TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
) STRICT;
CREATE INDEX api_keys_by_identity ON api_keys (identity, created_at);

CREATE TABLE logins (
    email         TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    identity      TEXT NOT NULL,
    created_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;
