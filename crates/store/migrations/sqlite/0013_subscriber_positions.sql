-- Followers of the change log (the search index; later workflow rules and webhooks): the
-- last entry each has handled, so that after a crash or restart it resumes from there.
-- Positions only move forward (see Store::advance_subscriber).
CREATE TABLE subscriber_positions (
    name TEXT PRIMARY KEY,
    position INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
