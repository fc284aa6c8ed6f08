-- Guanxi schema v1: every entity's table, the hash-chained change log.
-- Timestamps: microseconds since the Unix epoch (INTEGER). Ids: UUIDv7 as 16-byte BLOBs.

CREATE TABLE accounts (
    id BLOB PRIMARY KEY,
    version BIGINT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    deleted_at INTEGER,
    owner_id BLOB,
    team_id BLOB,
    kind TEXT,
    name TEXT,
    relationship TEXT,
    partner_type TEXT,
    parent_id BLOB,
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
    latitude REAL,
    longitude REAL,
    credit_status TEXT,
    serving_partner_id BLOB,
    tags TEXT NOT NULL DEFAULT '[]',
    tier TEXT,
    custom TEXT NOT NULL DEFAULT '{}'
);
-- Lists filter on scope and a field and sort by id (newest first) or name: each index
-- ends in its sort key, so a page is read in order and stops after its last row.
CREATE INDEX accounts__owner_id ON accounts (owner_id, id);
CREATE INDEX accounts__team_id ON accounts (team_id, id);
CREATE INDEX accounts__name ON accounts (name, id);
CREATE INDEX accounts__province_name ON accounts (province, name, id);
CREATE INDEX accounts__city ON accounts (city, id);
CREATE INDEX accounts__relationship ON accounts (relationship, id);
-- Partial: most accounts have no parent, and an index full of NULLs misleads the planner.
CREATE INDEX accounts__parent_id ON accounts (parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX accounts__serving_partner_id ON accounts (serving_partner_id);

CREATE TABLE contacts (
    id BLOB PRIMARY KEY,
    version BIGINT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    deleted_at INTEGER,
    owner_id BLOB,
    team_id BLOB,
    account_id BLOB,
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
    consent_sms INTEGER,
    consent_call INTEGER,
    consent_email INTEGER,
    consent_wechat INTEGER,
    consent_fax INTEGER,
    birthday TEXT,
    national_id TEXT,
    notes TEXT,
    tags TEXT NOT NULL DEFAULT '[]',
    custom TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX contacts__account_id ON contacts (account_id);
CREATE INDEX contacts__owner_id ON contacts (owner_id);
CREATE INDEX contacts__team_id ON contacts (team_id);
CREATE INDEX contacts__name ON contacts (name);
CREATE INDEX contacts__mobile ON contacts (mobile);
CREATE INDEX contacts__email ON contacts (email);

CREATE TABLE interactions (
    id BLOB PRIMARY KEY,
    version BIGINT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    deleted_at INTEGER,
    owner_id BLOB,
    team_id BLOB,
    kind TEXT,
    direction TEXT,
    status TEXT,
    at INTEGER,
    subject TEXT,
    body TEXT,
    outcome TEXT,
    account_id BLOB,
    contact_id BLOB,
    opportunity_id BLOB,
    case_id BLOB,
    custom TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX interactions__account_id_at ON interactions (account_id, at);
CREATE INDEX interactions__contact_id_at ON interactions (contact_id, at);
CREATE INDEX interactions__owner_id_at ON interactions (owner_id, at);
CREATE INDEX interactions__team_id ON interactions (team_id);

CREATE TABLE leads (
    id BLOB PRIMARY KEY,
    version BIGINT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    deleted_at INTEGER,
    owner_id BLOB,
    team_id BLOB,
    name TEXT,
    company TEXT,
    title TEXT,
    mobile TEXT,
    phone TEXT,
    email TEXT,
    source TEXT,
    status TEXT,
    score INTEGER,
    province TEXT,
    city TEXT,
    notes TEXT,
    converted_account_id BLOB,
    converted_contact_id BLOB,
    converted_opportunity_id BLOB,
    converted_at INTEGER,
    custom TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX leads__owner_id ON leads (owner_id);
CREATE INDEX leads__team_id ON leads (team_id);
CREATE INDEX leads__status ON leads (status);

CREATE TABLE pipelines (
    id BLOB PRIMARY KEY,
    version BIGINT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    deleted_at INTEGER,
    name TEXT,
    stages TEXT,
    is_default INTEGER,
    custom TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE opportunities (
    id BLOB PRIMARY KEY,
    version BIGINT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    deleted_at INTEGER,
    owner_id BLOB,
    team_id BLOB,
    name TEXT,
    account_id BLOB,
    contact_id BLOB,
    pipeline_id BLOB,
    stage TEXT,
    status TEXT,
    amount INTEGER,
    amount_currency TEXT,
    probability INTEGER,
    expected_close TEXT,
    close_reason TEXT,
    closed_at INTEGER,
    lead_id BLOB,
    stage_history TEXT,
    custom TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX opportunities__account_id ON opportunities (account_id);
CREATE INDEX opportunities__owner_id ON opportunities (owner_id);
CREATE INDEX opportunities__team_id ON opportunities (team_id);
CREATE INDEX opportunities__stage ON opportunities (stage);

CREATE TABLE products (
    id BLOB PRIMARY KEY,
    version BIGINT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    deleted_at INTEGER,
    sku TEXT,
    name TEXT,
    category TEXT,
    unit TEXT,
    list_price INTEGER,
    list_price_currency TEXT,
    cost INTEGER,
    cost_currency TEXT,
    active INTEGER,
    custom TEXT NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX products__sku__uniq ON products (sku);

CREATE TABLE orders (
    id BLOB PRIMARY KEY,
    version BIGINT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    deleted_at INTEGER,
    owner_id BLOB,
    team_id BLOB,
    number TEXT,
    account_id BLOB,
    contact_id BLOB,
    opportunity_id BLOB,
    status TEXT,
    ordered_at INTEGER,
    currency TEXT,
    lines TEXT,
    total INTEGER,
    cost_total INTEGER,
    status_history TEXT,
    custom TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX orders__account_id_ordered_at ON orders (account_id, ordered_at);
CREATE INDEX orders__owner_id ON orders (owner_id);
CREATE INDEX orders__team_id ON orders (team_id);
CREATE INDEX orders__ordered_at ON orders (ordered_at);
CREATE UNIQUE INDEX orders__number__uniq ON orders (number);

CREATE TABLE cases (
    id BLOB PRIMARY KEY,
    version BIGINT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    deleted_at INTEGER,
    owner_id BLOB,
    team_id BLOB,
    number TEXT,
    subject TEXT,
    description TEXT,
    kind TEXT,
    category TEXT,
    priority TEXT,
    status TEXT,
    channel TEXT,
    account_id BLOB,
    contact_id BLOB,
    assignee_id BLOB,
    partner_id BLOB,
    sla_due_at INTEGER,
    resolved_at INTEGER,
    satisfaction INTEGER,
    custom TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX cases__account_id ON cases (account_id);
CREATE INDEX cases__owner_id ON cases (owner_id);
CREATE INDEX cases__team_id ON cases (team_id);
CREATE INDEX cases__partner_id ON cases (partner_id);
CREATE INDEX cases__assignee_id ON cases (assignee_id);
CREATE INDEX cases__status ON cases (status);
CREATE UNIQUE INDEX cases__number__uniq ON cases (number);

CREATE TABLE campaigns (
    id BLOB PRIMARY KEY,
    version BIGINT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    deleted_at INTEGER,
    owner_id BLOB,
    team_id BLOB,
    name TEXT,
    channel TEXT,
    status TEXT,
    starts_on TEXT,
    ends_on TEXT,
    budget INTEGER,
    budget_currency TEXT,
    description TEXT,
    custom TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX campaigns__owner_id ON campaigns (owner_id);

CREATE TABLE users (
    id BLOB PRIMARY KEY,
    version BIGINT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    deleted_at INTEGER,
    email TEXT,
    name TEXT,
    role TEXT,
    team_id BLOB,
    partner_id BLOB,
    locale TEXT,
    active INTEGER,
    custom TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX users__team_id ON users (team_id);
CREATE UNIQUE INDEX users__email__uniq ON users (email);

CREATE TABLE teams (
    id BLOB PRIMARY KEY,
    version BIGINT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    deleted_at INTEGER,
    name TEXT,
    parent_id BLOB,
    custom TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX teams__parent_id ON teams (parent_id);

CREATE TABLE roles (
    id BLOB PRIMARY KEY,
    version BIGINT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    deleted_at INTEGER,
    "key" TEXT,
    name TEXT,
    name_zh TEXT,
    scope TEXT,
    rights TEXT,
    see_sensitive INTEGER,
    custom TEXT NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX roles__key__uniq ON roles ("key");

CREATE TABLE custom_fields (
    id BLOB PRIMARY KEY,
    version BIGINT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    deleted_at INTEGER,
    entity TEXT,
    "key" TEXT,
    label TEXT,
    label_zh TEXT,
    "type" TEXT,
    choices TEXT,
    required INTEGER,
    sensitive INTEGER,
    custom TEXT NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX custom_fields__entity_key__uniq ON custom_fields (entity, "key");

-- The change log: one entry per write, in the writing transaction. seq is gapless and
-- each entry's hash covers the previous one, so any edit or removal breaks the chain.
CREATE TABLE changes (
    seq INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    actor_id BLOB NOT NULL,
    entity TEXT NOT NULL,
    record_id BLOB NOT NULL,
    action TEXT NOT NULL,
    before TEXT,
    after TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX changes__record ON changes (record_id, seq);

-- The chain's head, one row: taken under the write lock so appends are strictly ordered.
CREATE TABLE chain_head (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO chain_head (one, seq, hash) VALUES (1, 0, '');
