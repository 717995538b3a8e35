-- Records are stored as JSON bodies (decimals as strings, so money is exact) beside the
-- columns queries filter and sort on. Times are microseconds since the Unix epoch.

CREATE TABLE tasks (
    id         TEXT PRIMARY KEY,      -- UUIDv7, hyphenated: text order is creation order
    poster     TEXT NOT NULL,
    status     TEXT NOT NULL,
    skill      TEXT,
    claimant   TEXT,                  -- the live claimant, if claimed
    due_at     INTEGER,               -- next deadline, if any
    body       TEXT NOT NULL
) STRICT;
CREATE INDEX tasks_by_status ON tasks (status, id);
CREATE INDEX tasks_by_skill ON tasks (skill, id);
CREATE INDEX tasks_by_poster ON tasks (poster, id);
CREATE INDEX tasks_by_claimant ON tasks (claimant, id) WHERE claimant IS NOT NULL;
-- The sweep reads the front of this index; tasks that are not due cost nothing.
CREATE INDEX tasks_by_due ON tasks (due_at, id) WHERE due_at IS NOT NULL;

-- Required capabilities and skill of each task, for capability filters and the broker.
CREATE TABLE task_tags (
    tag     TEXT NOT NULL,
    task_id TEXT NOT NULL,
    PRIMARY KEY (tag, task_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE accounts (
    identity     TEXT PRIMARY KEY,
    balance      TEXT NOT NULL,       -- exact decimal
    escrowed     TEXT NOT NULL,
    credit_limit TEXT NOT NULL,
    created_at   INTEGER NOT NULL
) STRICT;

CREATE TABLE reputations (
    identity TEXT PRIMARY KEY,
    body     TEXT NOT NULL
) STRICT;

CREATE TABLE profiles (
    identity TEXT PRIMARY KEY,
    body     TEXT NOT NULL
) STRICT;

CREATE TABLE profile_capabilities (
    capability TEXT NOT NULL,
    identity   TEXT NOT NULL,
    PRIMARY KEY (capability, identity)
) STRICT, WITHOUT ROWID;

CREATE TABLE rules (
    id         TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    body       TEXT NOT NULL
) STRICT;
CREATE INDEX rules_by_owner ON rules (owner, created_at);

CREATE TABLE rule_tags (
    tag     TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    PRIMARY KEY (tag, rule_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE contracts (
    id     TEXT PRIMARY KEY,
    poster TEXT NOT NULL,
    agent  TEXT NOT NULL,
    body   TEXT NOT NULL
) STRICT;
CREATE INDEX contracts_by_poster ON contracts (poster);
CREATE INDEX contracts_by_agent ON contracts (agent);

CREATE TABLE messages (
    id      TEXT PRIMARY KEY,
    task_id TEXT NOT NULL,
    body    TEXT NOT NULL
) STRICT;
CREATE INDEX messages_by_task ON messages (task_id, id);

CREATE TABLE posts (
    id     TEXT PRIMARY KEY,
    author TEXT NOT NULL,
    kind   TEXT NOT NULL,
    topic  TEXT,
    body   TEXT NOT NULL
) STRICT;

CREATE TABLE blobs (
    hash TEXT PRIMARY KEY,
    body TEXT NOT NULL
) STRICT;

-- The append-only ledger. The treasury has no row anywhere: its balance is the sum of its
-- lines, so settlements never contend on a shared row.
CREATE TABLE ledger (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    account    TEXT NOT NULL,         -- identity hash or 'treasury'
    tx_type    TEXT NOT NULL,
    amount     TEXT NOT NULL,
    escrow     TEXT NOT NULL,
    fee        TEXT NOT NULL,
    task_id    TEXT,
    memo       TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX ledger_by_account ON ledger (account, seq);

-- The outbox.
CREATE TABLE events (
    seq  INTEGER PRIMARY KEY AUTOINCREMENT,
    body TEXT NOT NULL
) STRICT;

CREATE TABLE idempotency (
    caller      TEXT NOT NULL,
    key         TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    response    TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (caller, key)
) STRICT;
CREATE INDEX idempotency_by_age ON idempotency (created_at);

-- Full-text search over tasks and board posts, written in the same transaction.
CREATE VIRTUAL TABLE search_index USING fts5(
    item_id UNINDEXED,
    kind UNINDEXED,
    body,
    tokenize = 'unicode61'
);
