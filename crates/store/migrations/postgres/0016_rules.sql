-- Workflow rules are records (an administrator's, versioned and in the change log); their
-- runs are bookkeeping: one row per rule fired by one change (the unique index keeps a
-- replayed change from firing a rule twice), and rule_writes remembers how deep in a chain
-- of rules each rule's writes are, so that a rule cannot trigger itself for ever.
CREATE TABLE rules (
    id UUID PRIMARY KEY,
    version BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    deleted_at TIMESTAMPTZ,
    name TEXT,
    entity TEXT,
    "trigger" JSONB,
    conditions JSONB,
    actions JSONB,
    active BOOLEAN,
    description TEXT,
    custom JSONB NOT NULL DEFAULT '{}'
);

CREATE TABLE rule_runs (
    id UUID PRIMARY KEY,
    rule_id UUID NOT NULL,
    entity TEXT NOT NULL,
    record_id UUID NOT NULL,
    seq BIGINT NOT NULL,
    depth INTEGER NOT NULL,
    status TEXT NOT NULL,
    detail JSONB NOT NULL DEFAULT '[]',
    error TEXT,
    at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ
);
CREATE UNIQUE INDEX rule_runs__fired ON rule_runs (rule_id, seq, record_id);
CREATE INDEX rule_runs__rule ON rule_runs (rule_id, at);
CREATE INDEX rule_runs__record ON rule_runs (record_id, at);

CREATE TABLE rule_writes (
    rule_id UUID NOT NULL,
    record_id UUID NOT NULL,
    depth INTEGER NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (rule_id, record_id)
);

-- Whose turn it is in a round-robin assignment: the member who had the last one.
CREATE TABLE rule_turns (
    rule_id UUID NOT NULL,
    team_id UUID NOT NULL,
    user_id UUID NOT NULL,
    PRIMARY KEY (rule_id, team_id)
);
