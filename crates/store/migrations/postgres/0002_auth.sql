-- Sign-in: secrets live outside the users table, so they never reach the change log,
-- the API or an export. Session and API-token secrets are stored only as SHA-256 hashes.

CREATE TABLE credentials (
    user_id UUID PRIMARY KEY,
    -- Argon2id, PHC string format.
    password_hash TEXT NOT NULL,
    failed_attempts BIGINT NOT NULL DEFAULT 0,
    locked_until TIMESTAMPTZ,
    changed_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id UUID NOT NULL,
    csrf_token TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX sessions__user_id ON sessions (user_id);

CREATE TABLE api_tokens (
    id UUID PRIMARY KEY,
    user_id UUID NOT NULL,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ,
    last_used_at TIMESTAMPTZ
);
CREATE UNIQUE INDEX api_tokens__token_hash__uniq ON api_tokens (token_hash);
CREATE INDEX api_tokens__user_id ON api_tokens (user_id);
