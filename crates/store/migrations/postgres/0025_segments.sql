-- Segments: saved groups of accounts or contacts (a marketer's, scoped like other
-- customer records). A dynamic segment is its conditions; a static list's members are
-- rows of segment_members, added from a list's selection or a spreadsheet.
-- An interaction may name the campaign it belongs to: a send, a reply, a visit to an event.
CREATE TABLE segments (
    id UUID PRIMARY KEY,
    version BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    deleted_at TIMESTAMPTZ,
    owner_id UUID,
    team_id UUID,
    name TEXT,
    entity TEXT,
    kind TEXT,
    conditions JSONB,
    facts JSONB,
    description TEXT,
    custom JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX segments__owner_id ON segments (owner_id);
CREATE INDEX segments__team_id ON segments (team_id);

CREATE TABLE segment_members (
    segment_id UUID NOT NULL,
    record_id UUID NOT NULL,
    added_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (segment_id, record_id)
);

ALTER TABLE interactions ADD COLUMN campaign_id UUID;
CREATE INDEX interactions__campaign_id ON interactions (campaign_id) WHERE campaign_id IS NOT NULL;
