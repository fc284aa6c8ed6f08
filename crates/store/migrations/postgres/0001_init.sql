-- Guanxi schema v1: every entity's table, the hash-chained change log.
-- Timestamps: TIMESTAMPTZ. Ids: UUIDv7 UUID.

CREATE TABLE accounts (
    id UUID PRIMARY KEY,
    version BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    deleted_at TIMESTAMPTZ,
    owner_id UUID,
    team_id UUID,
    kind TEXT,
    name TEXT,
    relationship TEXT,
    partner_type TEXT,
    parent_id UUID,
    industry TEXT,
    size TEXT,
    credit_code TEXT,
    phone TEXT,
    email TEXT,
    website TEXT,
    province TEXT,
    city TEXT,
    district TEXT,
    adcode TEXT,
    address TEXT,
    latitude DOUBLE PRECISION,
    longitude DOUBLE PRECISION,
    credit_status TEXT,
    serving_partner_id UUID,
    tags JSONB NOT NULL DEFAULT '[]',
    tier TEXT,
    custom JSONB NOT NULL DEFAULT '{}'
);
-- Lists filter on scope and a field and sort by id (newest first) or name: each index
-- ends in its sort key, so a page is read in order and stops after its last row.
CREATE INDEX accounts__owner_id ON accounts (owner_id, id);
CREATE INDEX accounts__team_id ON accounts (team_id, id);
CREATE INDEX accounts__name ON accounts (name NULLS FIRST, id);
CREATE INDEX accounts__province_name ON accounts (province, name NULLS FIRST, id);
CREATE INDEX accounts__city ON accounts (city, id);
CREATE INDEX accounts__relationship ON accounts (relationship, id);
-- Partial: most accounts have no parent, and an index full of NULLs misleads the planner.
CREATE INDEX accounts__parent_id ON accounts (parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX accounts__serving_partner_id ON accounts (serving_partner_id);

CREATE TABLE contacts (
    id UUID PRIMARY KEY,
    version BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    deleted_at TIMESTAMPTZ,
    owner_id UUID,
    team_id UUID,
    account_id UUID,
    name TEXT,
    title TEXT,
    department TEXT,
    buying_role TEXT,
    stance TEXT,
    mobile TEXT,
    phone TEXT,
    email TEXT,
    wechat TEXT,
    fax TEXT,
    consent_sms BOOLEAN,
    consent_call BOOLEAN,
    consent_email BOOLEAN,
    consent_wechat BOOLEAN,
    consent_fax BOOLEAN,
    birthday DATE,
    national_id TEXT,
    notes TEXT,
    tags JSONB NOT NULL DEFAULT '[]',
    custom JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX contacts__account_id ON contacts (account_id);
CREATE INDEX contacts__owner_id ON contacts (owner_id);
CREATE INDEX contacts__team_id ON contacts (team_id);
CREATE INDEX contacts__name ON contacts (name NULLS FIRST, id);
CREATE INDEX contacts__mobile ON contacts (mobile);
CREATE INDEX contacts__email ON contacts (email);

CREATE TABLE interactions (
    id UUID PRIMARY KEY,
    version BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    deleted_at TIMESTAMPTZ,
    owner_id UUID,
    team_id UUID,
    kind TEXT,
    direction TEXT,
    status TEXT,
    at TIMESTAMPTZ,
    subject TEXT,
    body TEXT,
    outcome TEXT,
    account_id UUID,
    contact_id UUID,
    opportunity_id UUID,
    case_id UUID,
    custom JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX interactions__account_id_at ON interactions (account_id, at);
CREATE INDEX interactions__contact_id_at ON interactions (contact_id, at);
CREATE INDEX interactions__owner_id_at ON interactions (owner_id, at);
CREATE INDEX interactions__team_id ON interactions (team_id);

CREATE TABLE leads (
    id UUID PRIMARY KEY,
    version BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    deleted_at TIMESTAMPTZ,
    owner_id UUID,
    team_id UUID,
    name TEXT,
    company TEXT,
    title TEXT,
    mobile TEXT,
    phone TEXT,
    email TEXT,
    source TEXT,
    status TEXT,
    score BIGINT,
    province TEXT,
    city TEXT,
    notes TEXT,
    converted_account_id UUID,
    converted_contact_id UUID,
    converted_opportunity_id UUID,
    converted_at TIMESTAMPTZ,
    custom JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX leads__owner_id ON leads (owner_id);
CREATE INDEX leads__team_id ON leads (team_id);
CREATE INDEX leads__status ON leads (status);

CREATE TABLE pipelines (
    id UUID PRIMARY KEY,
    version BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    deleted_at TIMESTAMPTZ,
    name TEXT,
    stages JSONB,
    is_default BOOLEAN,
    custom JSONB NOT NULL DEFAULT '{}'
);

CREATE TABLE opportunities (
    id UUID PRIMARY KEY,
    version BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    deleted_at TIMESTAMPTZ,
    owner_id UUID,
    team_id UUID,
    name TEXT,
    account_id UUID,
    contact_id UUID,
    pipeline_id UUID,
    stage TEXT,
    status TEXT,
    amount BIGINT,
    amount_currency TEXT,
    probability BIGINT,
    expected_close DATE,
    close_reason TEXT,
    closed_at TIMESTAMPTZ,
    lead_id UUID,
    stage_history JSONB,
    custom JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX opportunities__account_id ON opportunities (account_id);
CREATE INDEX opportunities__owner_id ON opportunities (owner_id);
CREATE INDEX opportunities__team_id ON opportunities (team_id);
CREATE INDEX opportunities__stage ON opportunities (stage);

CREATE TABLE products (
    id UUID PRIMARY KEY,
    version BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    deleted_at TIMESTAMPTZ,
    sku TEXT,
    name TEXT,
    category TEXT,
    unit TEXT,
    list_price BIGINT,
    list_price_currency TEXT,
    cost BIGINT,
    cost_currency TEXT,
    active BOOLEAN,
    custom JSONB NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX products__sku__uniq ON products (sku);

CREATE TABLE orders (
    id UUID PRIMARY KEY,
    version BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    deleted_at TIMESTAMPTZ,
    owner_id UUID,
    team_id UUID,
    number TEXT,
    account_id UUID,
    contact_id UUID,
    opportunity_id UUID,
    status TEXT,
    ordered_at TIMESTAMPTZ,
    currency TEXT,
    lines JSONB,
    total BIGINT,
    cost_total BIGINT,
    status_history JSONB,
    custom JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX orders__account_id_ordered_at ON orders (account_id, ordered_at);
CREATE INDEX orders__owner_id ON orders (owner_id);
CREATE INDEX orders__team_id ON orders (team_id);
CREATE INDEX orders__ordered_at ON orders (ordered_at);
CREATE UNIQUE INDEX orders__number__uniq ON orders (number);

CREATE TABLE cases (
    id UUID PRIMARY KEY,
    version BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    deleted_at TIMESTAMPTZ,
    owner_id UUID,
    team_id UUID,
    number TEXT,
    subject TEXT,
    description TEXT,
    kind TEXT,
    category TEXT,
    priority TEXT,
    status TEXT,
    channel TEXT,
    account_id UUID,
    contact_id UUID,
    assignee_id UUID,
    partner_id UUID,
    sla_due_at TIMESTAMPTZ,
    resolved_at TIMESTAMPTZ,
    satisfaction BIGINT,
    custom JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX cases__account_id ON cases (account_id);
CREATE INDEX cases__owner_id ON cases (owner_id);
CREATE INDEX cases__team_id ON cases (team_id);
CREATE INDEX cases__partner_id ON cases (partner_id);
CREATE INDEX cases__assignee_id ON cases (assignee_id);
CREATE INDEX cases__status ON cases (status);
CREATE UNIQUE INDEX cases__number__uniq ON cases (number);

CREATE TABLE campaigns (
    id UUID PRIMARY KEY,
    version BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    deleted_at TIMESTAMPTZ,
    owner_id UUID,
    team_id UUID,
    name TEXT,
    channel TEXT,
    status TEXT,
    starts_on DATE,
    ends_on DATE,
    budget BIGINT,
    budget_currency TEXT,
    description TEXT,
    custom JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX campaigns__owner_id ON campaigns (owner_id);

CREATE TABLE users (
    id UUID PRIMARY KEY,
    version BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    deleted_at TIMESTAMPTZ,
    email TEXT,
    name TEXT,
    role TEXT,
    team_id UUID,
    partner_id UUID,
    locale TEXT,
    active BOOLEAN,
    custom JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX users__team_id ON users (team_id);
CREATE UNIQUE INDEX users__email__uniq ON users (email);

CREATE TABLE teams (
    id UUID PRIMARY KEY,
    version BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    deleted_at TIMESTAMPTZ,
    name TEXT,
    parent_id UUID,
    custom JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX teams__parent_id ON teams (parent_id);

CREATE TABLE roles (
    id UUID PRIMARY KEY,
    version BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    deleted_at TIMESTAMPTZ,
    "key" TEXT,
    name TEXT,
    name_zh TEXT,
    scope TEXT,
    rights JSONB,
    see_sensitive BOOLEAN,
    custom JSONB NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX roles__key__uniq ON roles ("key");

CREATE TABLE custom_fields (
    id UUID PRIMARY KEY,
    version BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    deleted_at TIMESTAMPTZ,
    entity TEXT,
    "key" TEXT,
    label TEXT,
    label_zh TEXT,
    "type" TEXT,
    choices JSONB,
    required BOOLEAN,
    sensitive BOOLEAN,
    custom JSONB NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX custom_fields__entity_key__uniq ON custom_fields (entity, "key");

-- The change log: one entry per write, in the writing transaction. seq is gapless and
-- each entry's hash covers the previous one, so any edit or removal breaks the chain.
CREATE TABLE changes (
    seq BIGINT PRIMARY KEY,
    at TIMESTAMPTZ NOT NULL,
    actor_id UUID NOT NULL,
    entity TEXT NOT NULL,
    record_id UUID NOT NULL,
    action TEXT NOT NULL,
    before TEXT,
    after TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX changes__record ON changes (record_id, seq);

-- The chain's head, one row, locked FOR UPDATE by every write: appends are strictly ordered
-- even with several instances on one database.
CREATE TABLE chain_head (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO chain_head (one, seq, hash) VALUES (1, 0, '');
