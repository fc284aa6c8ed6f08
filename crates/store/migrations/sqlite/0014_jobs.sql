-- Durable jobs: work that must happen at least once (rule actions, webhook deliveries,
-- e-mails, timers). A job is claimed with a lease (lease_owner until lease_until): a
-- running job whose lease ran out belongs to an instance that died, and is taken over.
-- run_at is when it may first run: a timer is a job whose run_at lies ahead.
CREATE TABLE jobs (
    id BLOB PRIMARY KEY,
    kind TEXT NOT NULL,
    -- Idempotency: enqueueing a key again finds the first job (several NULLs may coexist).
    key TEXT,
    payload TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'dead', 'cancelled')),
    attempts BIGINT NOT NULL,
    max_attempts BIGINT NOT NULL,
    run_at INTEGER NOT NULL,
    lease_owner TEXT,
    lease_until INTEGER,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    finished_at INTEGER
);
CREATE UNIQUE INDEX jobs__key__uniq ON jobs (key);
-- Claiming: due queued jobs, and running ones whose lease expired.
CREATE INDEX jobs__due ON jobs (state, run_at);
-- The administrators' list, newest first (ids are v7: in creation order), by state or kind.
CREATE INDEX jobs__state ON jobs (state, id);
CREATE INDEX jobs__kind ON jobs (kind, id);
