-- E-mail templates are records (an administrator's, versioned and in the change log).
-- Unsubscribe tokens stand for a contact in the one-click unsubscribe address of the
-- marketing mail it receives: random, one per contact, so the address names nobody.
CREATE TABLE email_templates (
    id UUID PRIMARY KEY,
    version BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    deleted_at TIMESTAMPTZ,
    name TEXT,
    locale TEXT,
    category TEXT,
    subject TEXT,
    html TEXT,
    text TEXT,
    custom JSONB NOT NULL DEFAULT '{}'
);

CREATE TABLE unsubscribe_tokens (
    token TEXT PRIMARY KEY,
    contact_id UUID NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL
);
