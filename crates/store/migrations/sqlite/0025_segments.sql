-- Segments: saved groups of accounts or contacts (a marketer's, scoped like other
-- customer records). A dynamic segment is its conditions; a static list's members are
-- rows of segment_members, added from a list's selection or a spreadsheet.
-- An interaction may name the campaign it belongs to: a send, a reply, a visit to an event.
CREATE TABLE segments (
    id BLOB PRIMARY KEY,
    version BIGINT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    deleted_at INTEGER,
    owner_id BLOB,
    team_id BLOB,
    name TEXT,
    entity TEXT,
    kind TEXT,
    conditions TEXT,
    facts TEXT,
    description TEXT,
    custom TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX segments__owner_id ON segments (owner_id);
CREATE INDEX segments__team_id ON segments (team_id);

CREATE TABLE segment_members (
    segment_id BLOB NOT NULL,
    record_id BLOB NOT NULL,
    added_at INTEGER NOT NULL,
    PRIMARY KEY (segment_id, record_id)
);

ALTER TABLE interactions ADD COLUMN campaign_id BLOB;
CREATE INDEX interactions__campaign_id ON interactions (campaign_id) WHERE campaign_id IS NOT NULL;
