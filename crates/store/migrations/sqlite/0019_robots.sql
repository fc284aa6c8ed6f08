-- Group robots of WeCom, DingTalk and Feishu chats are records (an administrator's,
-- versioned and in the change log). The signing secret is a sensitive field: masked for
-- roles that do not see sensitive data, in lists, exports and the change log alike.
CREATE TABLE robots (
    id BLOB PRIMARY KEY,
    version BIGINT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    deleted_at INTEGER,
    name TEXT,
    kind TEXT,
    url TEXT,
    secret TEXT,
    active INTEGER,
    forward TEXT NOT NULL DEFAULT '[]',
    forward_team_id BLOB,
    custom TEXT NOT NULL DEFAULT '{}'
);
