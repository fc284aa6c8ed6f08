-- Segments and campaigns that send. Segments: saved groups of accounts or contacts (a marketer's, scoped like other
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

-- Campaigns that send: the segment they reach, their message variants (A/B) and the share
-- held out as a control group. A campaign's members are taken from its segment at launch,
-- one row each with the variant drawn for them (-1: the control group, sent nothing) and
-- where their message stands (queued, sending, sent, refused, failed), so that a campaign paused
-- and resumed, or a send job run twice, sends nobody a message twice.
ALTER TABLE campaigns ADD COLUMN segment_id UUID;
ALTER TABLE campaigns ADD COLUMN variants JSONB NOT NULL DEFAULT '[]';
ALTER TABLE campaigns ADD COLUMN control_percent BIGINT NOT NULL DEFAULT 0;

CREATE TABLE campaign_members (
    campaign_id UUID NOT NULL,
    contact_id UUID NOT NULL,
    variant INTEGER NOT NULL,
    state TEXT NOT NULL,
    detail TEXT,
    interaction_id UUID,
    added_at TIMESTAMPTZ NOT NULL,
    sent_at TIMESTAMPTZ,
    -- The send job that took it (state sending) and when: the same job run again takes it
    -- back, another only after a lease, when the one that took it must have died.
    claimed_by TEXT,
    claimed_at TIMESTAMPTZ,
    -- The first open (the tracking pixel, or a click) and the first click.
    opened_at TIMESTAMPTZ,
    clicked_at TIMESTAMPTZ,
    PRIMARY KEY (campaign_id, contact_id)
);
CREATE INDEX campaign_members__state ON campaign_members (campaign_id, state, contact_id);

-- Secrets the servers share and no one reads (the key that signs tracking links): made on
-- first use, kept out of settings (which the change log copies).
CREATE TABLE secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
