-- Records are stored as JSON bodies (decimals as strings) beside the columns queries filter
-- and lock on. Money columns are NUMERIC; times are microseconds since the Unix epoch.

CREATE TABLE tasks (
    id         UUID PRIMARY KEY,        -- UUIDv7: id order is creation order
    poster     TEXT NOT NULL,
    status     TEXT NOT NULL,
    skill      TEXT,
    claimant   TEXT,
    due_at     BIGINT,
    body       TEXT NOT NULL
);
CREATE INDEX tasks_by_status ON tasks (status, id);
CREATE INDEX tasks_by_skill ON tasks (skill, id);
CREATE INDEX tasks_by_poster ON tasks (poster, id);
CREATE INDEX tasks_by_claimant ON tasks (claimant, id) WHERE claimant IS NOT NULL;
-- The sweep reads the front of this index (FOR UPDATE SKIP LOCKED): not-due tasks cost nothing.
CREATE INDEX tasks_by_due ON tasks (due_at, id) WHERE due_at IS NOT NULL;

CREATE TABLE task_tags (
    tag     TEXT NOT NULL,
    task_id UUID NOT NULL,
    PRIMARY KEY (tag, task_id)
);

CREATE TABLE accounts (
    identity     TEXT PRIMARY KEY,
    balance      NUMERIC NOT NULL,
    escrowed     NUMERIC NOT NULL,
    credit_limit NUMERIC NOT NULL,
    created_at   BIGINT NOT NULL
);

CREATE TABLE reputations (
    identity TEXT PRIMARY KEY,
    body     TEXT NOT NULL
);

CREATE TABLE profiles (
    identity TEXT PRIMARY KEY,
    body     TEXT NOT NULL
);

CREATE TABLE profile_capabilities (
    capability TEXT NOT NULL,
    identity   TEXT NOT NULL,
    PRIMARY KEY (capability, identity)
);

CREATE TABLE rules (
    id         UUID PRIMARY KEY,
    owner      TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    body       TEXT NOT NULL
);
CREATE INDEX rules_by_owner ON rules (owner, created_at);

CREATE TABLE rule_tags (
    tag     TEXT NOT NULL,
    rule_id UUID NOT NULL,
    PRIMARY KEY (tag, rule_id)
);

CREATE TABLE contracts (
    id     UUID PRIMARY KEY,
    poster TEXT NOT NULL,
    agent  TEXT NOT NULL,
    body   TEXT NOT NULL
);
CREATE INDEX contracts_by_poster ON contracts (poster);
CREATE INDEX contracts_by_agent ON contracts (agent);

CREATE TABLE messages (
    id      UUID PRIMARY KEY,
    task_id UUID NOT NULL,
    body    TEXT NOT NULL
);
CREATE INDEX messages_by_task ON messages (task_id, id);

CREATE TABLE posts (
    id     UUID PRIMARY KEY,
    author TEXT NOT NULL,
    kind   TEXT NOT NULL,
    topic  TEXT,
    body   TEXT NOT NULL
);

CREATE TABLE blobs (
    hash TEXT PRIMARY KEY,
    body TEXT NOT NULL
);

-- The append-only ledger; the treasury is the sum of its lines, never a row.
CREATE TABLE ledger (
    seq        BIGSERIAL PRIMARY KEY,
    account    TEXT NOT NULL,
    tx_type    TEXT NOT NULL,
    amount     NUMERIC NOT NULL,
    escrow     NUMERIC NOT NULL,
    fee        NUMERIC NOT NULL,
    task_id    UUID,
    memo       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX ledger_by_account ON ledger (account, seq);

CREATE TABLE events (
    seq  BIGSERIAL PRIMARY KEY,
    body TEXT NOT NULL
);

CREATE TABLE idempotency (
    caller      TEXT NOT NULL,
    key         TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    response    TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (caller, key)
);
CREATE INDEX idempotency_by_age ON idempotency (created_at);

-- Full-text search over tasks and board posts, written in the same transaction.
CREATE TABLE search_index (
    item_id UUID PRIMARY KEY,
    kind    TEXT NOT NULL,
    tsv     TSVECTOR NOT NULL
);
CREATE INDEX search_by_tsv ON search_index USING GIN (tsv);
