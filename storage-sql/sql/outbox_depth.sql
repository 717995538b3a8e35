-- Events not yet completed: waiting, leased or backing off.
SELECT count(*) AS depth FROM outbox
