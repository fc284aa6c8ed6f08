-- Sign-in: secrets live outside the users table, so they never reach the change log,
-- the API or an export. Session and API-token secrets are stored only as SHA-256 hashes.

CREATE TABLE credentials (
    user_id BLOB PRIMARY KEY,
    -- Argon2id, PHC string format.
    password_hash TEXT NOT NULL,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    locked_until INTEGER,
    changed_at INTEGER NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id BLOB NOT NULL,
    csrf_token TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions__user_id ON sessions (user_id);

CREATE TABLE api_tokens (
    id BLOB PRIMARY KEY,
    user_id BLOB NOT NULL,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    revoked_at INTEGER,
    last_used_at INTEGER
);
CREATE UNIQUE INDEX api_tokens__token_hash__uniq ON api_tokens (token_hash);
CREATE INDEX api_tokens__user_id ON api_tokens (user_id);
