-- Imports: each file's progress (to resume after a crash), and the keys each imported row
-- was matched or created by, so that importing the same file again changes nothing.
CREATE TABLE import_jobs (
    id UUID PRIMARY KEY,
    entity TEXT NOT NULL,
    file_name TEXT NOT NULL,
    file_sha256 TEXT NOT NULL,
    actor_id UUID NOT NULL,
    status TEXT NOT NULL,
    rows_done BIGINT NOT NULL,
    resume_offset BIGINT,
    resume_row BIGINT,
    created BIGINT NOT NULL,
    updated BIGINT NOT NULL,
    unchanged BIGINT NOT NULL,
    failed BIGINT NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX import_jobs__file ON import_jobs (file_sha256, entity);
CREATE TABLE import_keys (
    entity TEXT NOT NULL,
    key TEXT NOT NULL,
    record_id UUID NOT NULL,
    PRIMARY KEY (entity, key)
);
-- Upserts match rows by these.
CREATE INDEX leads__email ON leads (email);
CREATE INDEX leads__mobile ON leads (mobile);
CREATE INDEX accounts__credit_code ON accounts (credit_code) WHERE credit_code IS NOT NULL;
