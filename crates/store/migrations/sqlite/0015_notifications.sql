-- In-app notifications: one row per recipient. `dedupe_key` makes sending idempotent (a
-- change-log subscriber replayed after a crash, a job retried: the second insert is a
-- no-op); rows sent without a key are never deduplicated.
CREATE TABLE notifications (
    id BLOB PRIMARY KEY,
    user_id BLOB NOT NULL,
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT,
    entity TEXT,
    record_id BLOB,
    source TEXT NOT NULL,
    dedupe_key TEXT UNIQUE,
    created_at INTEGER NOT NULL,
    read_at INTEGER
);
-- The list, newest first (ids are UUIDv7), and the bell's unread count on every page.
CREATE INDEX notifications__user ON notifications (user_id, id);
CREATE INDEX notifications__unread ON notifications (user_id) WHERE read_at IS NULL;
