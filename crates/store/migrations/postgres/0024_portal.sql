-- The customer portal: a customer's contact signs in apart from staff. Its password (when
-- it chose one), its sessions and its one-time sign-in links live in tables of their own;
-- secrets are stored only as hashes, never in the change log.
CREATE TABLE portal_credentials (
    contact_id UUID PRIMARY KEY,
    -- Argon2id, PHC string format.
    password_hash TEXT NOT NULL,
    changed_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE portal_sessions (
    token_hash TEXT PRIMARY KEY,
    contact_id UUID NOT NULL,
    csrf_token TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX portal_sessions__contact_id ON portal_sessions (contact_id);

CREATE TABLE portal_links (
    token_hash TEXT PRIMARY KEY,
    contact_id UUID NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at TIMESTAMPTZ
);
