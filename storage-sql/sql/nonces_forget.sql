DELETE FROM nonces WHERE kept_until < $1
