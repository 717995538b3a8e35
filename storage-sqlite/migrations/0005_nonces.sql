-- Nonces of signed requests, remembered for the signature's time window to refuse replays.
CREATE TABLE nonces (
    identity   TEXT NOT NULL,
    nonce      TEXT NOT NULL,
    kept_until INTEGER NOT NULL,
    PRIMARY KEY (identity, nonce)
) STRICT;
CREATE INDEX nonces_by_age ON nonces (kept_until);
