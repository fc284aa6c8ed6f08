-- Group robots of WeCom, DingTalk and Feishu chats are records (an administrator's,
-- versioned and in the change log). The signing secret is a sensitive field: masked for
-- roles that do not see sensitive data, in lists, exports and the change log alike.
CREATE TABLE robots (
    id UUID PRIMARY KEY,
    version BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    deleted_at TIMESTAMPTZ,
    name TEXT,
    kind TEXT,
    url TEXT,
    secret TEXT,
    active BOOLEAN,
    forward JSONB NOT NULL DEFAULT '[]',
    forward_team_id UUID,
    custom JSONB NOT NULL DEFAULT '{}'
);
