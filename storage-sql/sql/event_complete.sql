-- Takes a leased event out of the outbox, if the lease `$2` is still the latest.
DELETE FROM outbox WHERE seq = $1 AND attempts = $2
