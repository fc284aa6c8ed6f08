-- Saved list views: a named list query (filters, sort, columns) of one entity, private to
-- its owner or shared with everyone who may read that entity.
CREATE TABLE saved_views (
    id BLOB PRIMARY KEY,
    owner_id BLOB NOT NULL,
    entity TEXT NOT NULL,
    name TEXT NOT NULL,
    query TEXT NOT NULL,
    shared INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX saved_views__entity ON saved_views (entity, owner_id);
