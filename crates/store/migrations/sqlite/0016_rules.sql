-- Workflow rules are records (an administrator's, versioned and in the change log); their
-- runs are bookkeeping: one row per rule fired by one change (the unique index keeps a
-- replayed change from firing a rule twice), and rule_writes remembers how deep in a chain
-- of rules each rule's writes are, so that a rule cannot trigger itself for ever.
CREATE TABLE rules (
    id BLOB PRIMARY KEY,
    version BIGINT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    deleted_at INTEGER,
    name TEXT,
    entity TEXT,
    "trigger" TEXT,
    conditions TEXT,
    actions TEXT,
    active INTEGER,
    description TEXT,
    custom TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE rule_runs (
    id BLOB PRIMARY KEY,
    rule_id BLOB NOT NULL,
    entity TEXT NOT NULL,
    record_id BLOB NOT NULL,
    seq INTEGER NOT NULL,
    depth INTEGER NOT NULL,
    status TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '[]',
    error TEXT,
    at INTEGER NOT NULL,
    finished_at INTEGER
);
CREATE UNIQUE INDEX rule_runs__fired ON rule_runs (rule_id, seq, record_id);
CREATE INDEX rule_runs__rule ON rule_runs (rule_id, at);
CREATE INDEX rule_runs__record ON rule_runs (record_id, at);

CREATE TABLE rule_writes (
    rule_id BLOB NOT NULL,
    record_id BLOB NOT NULL,
    depth INTEGER NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (rule_id, record_id)
);

-- Whose turn it is in a round-robin assignment: the member who had the last one.
CREATE TABLE rule_turns (
    rule_id BLOB NOT NULL,
    team_id BLOB NOT NULL,
    user_id BLOB NOT NULL,
    PRIMARY KEY (rule_id, team_id)
);
