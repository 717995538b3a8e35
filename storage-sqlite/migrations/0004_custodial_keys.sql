-- Keypairs the marketplace holds for identities without their own: the secret key only
-- sealed with the server's master key.
CREATE TABLE custodial_keys (
    identity      TEXT PRIMARY KEY,
    public_key    TEXT NOT NULL,
    sealed_secret TEXT NOT NULL,
    created_at    INTEGER NOT NULL
) STRICT;
