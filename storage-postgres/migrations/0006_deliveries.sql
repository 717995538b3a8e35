-- Reaching identities outside the marketplace: their signing secret (sealed by the server)
-- and subscribed events, and every delivery to their webhook or callback URL with every
-- attempt.
CREATE TABLE webhooks (
    identity      TEXT PRIMARY KEY,
    sealed_secret TEXT NOT NULL,
    events        TEXT NOT NULL,
    updated_at    BIGINT NOT NULL
);

CREATE TABLE deliveries (
    id           BIGSERIAL PRIMARY KEY,
    event_seq    BIGINT NOT NULL,
    recipient    TEXT NOT NULL,
    channel      TEXT NOT NULL,
    event        TEXT NOT NULL,
    body         TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'pending',
    attempts     INTEGER NOT NULL DEFAULT 0,
    available_at BIGINT NOT NULL,
    finished_at  BIGINT
);
-- One delivery per outbox event, recipient and channel (pings carry no event).
CREATE UNIQUE INDEX deliveries_once ON deliveries (event_seq, recipient, channel)
    WHERE event_seq > 0;
CREATE INDEX deliveries_due ON deliveries (available_at, id) WHERE status = 'pending';
CREATE INDEX deliveries_by_recipient ON deliveries (recipient, id);

CREATE TABLE delivery_attempts (
    delivery    BIGINT NOT NULL,
    attempt     INTEGER NOT NULL,
    at          BIGINT NOT NULL,
    url         TEXT,
    status_code INTEGER,
    latency_ms  BIGINT NOT NULL,
    error       TEXT,
    PRIMARY KEY (delivery, attempt)
);
