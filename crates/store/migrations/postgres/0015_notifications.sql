-- In-app notifications: one row per recipient. `dedupe_key` makes sending idempotent (a
-- change-log subscriber replayed after a crash, a job retried: the second insert is a
-- no-op); rows sent without a key are never deduplicated.
CREATE TABLE notifications (
    id UUID PRIMARY KEY,
    user_id UUID NOT NULL,
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT,
    entity TEXT,
    record_id UUID,
    source TEXT NOT NULL,
    dedupe_key TEXT UNIQUE,
    created_at TIMESTAMPTZ NOT NULL,
    read_at TIMESTAMPTZ
);
-- The list, newest first (ids are UUIDv7), and the bell's unread count on every page.
CREATE INDEX notifications__user ON notifications (user_id, id);
CREATE INDEX notifications__unread ON notifications (user_id) WHERE read_at IS NULL;
