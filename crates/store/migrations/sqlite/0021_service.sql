-- Service that runs: business calendars and SLA policies are records (an administrator's,
-- versioned and in the change log); a case carries its SLA clock and where dispatching it to
-- a service partner stands, both kept by Guanxi (app/src/service.rs); a partner account
-- says whether it takes cases and which.
CREATE TABLE calendars (
    id BLOB PRIMARY KEY,
    version BIGINT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    deleted_at INTEGER,
    name TEXT,
    time_zone TEXT,
    hours TEXT,
    years TEXT,
    description TEXT,
    custom TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE sla_policies (
    id BLOB PRIMARY KEY,
    version BIGINT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    deleted_at INTEGER,
    name TEXT,
    rank INTEGER,
    active INTEGER,
    calendar_id BLOB,
    categories TEXT NOT NULL DEFAULT '[]',
    priorities TEXT NOT NULL DEFAULT '[]',
    tiers TEXT NOT NULL DEFAULT '[]',
    grades TEXT NOT NULL DEFAULT '[]',
    channels TEXT NOT NULL DEFAULT '[]',
    first_response_minutes INTEGER,
    resolution_minutes INTEGER,
    warn_before_minutes INTEGER,
    pause_statuses TEXT NOT NULL DEFAULT '[]',
    description TEXT,
    custom TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX sla_policies__calendar_id ON sla_policies (calendar_id);

ALTER TABLE cases ADD COLUMN product_id BLOB;
ALTER TABLE cases ADD COLUMN order_id BLOB;
ALTER TABLE cases ADD COLUMN resolution TEXT;
ALTER TABLE cases ADD COLUMN sla_policy_id BLOB;
ALTER TABLE cases ADD COLUMN first_response_due_at INTEGER;
ALTER TABLE cases ADD COLUMN first_response_at INTEGER;
ALTER TABLE cases ADD COLUMN sla_state TEXT;
ALTER TABLE cases ADD COLUMN sla_used_minutes INTEGER;
ALTER TABLE cases ADD COLUMN sla_since INTEGER;
ALTER TABLE cases ADD COLUMN sla_next_at INTEGER;
ALTER TABLE cases ADD COLUMN dispatch_status TEXT;
ALTER TABLE cases ADD COLUMN dispatch_offered_at INTEGER;
ALTER TABLE cases ADD COLUMN dispatch_passed TEXT NOT NULL DEFAULT '[]';
ALTER TABLE cases ADD COLUMN dispatch_reason TEXT;
CREATE INDEX cases__product_id ON cases (product_id);
CREATE INDEX cases__order_id ON cases (order_id);
CREATE INDEX cases__sla_policy_id ON cases (sla_policy_id);
-- The SLA sweep takes the cases whose state changes by itself now (a warning, a breach).
CREATE INDEX cases__sla_next_at ON cases (sla_next_at) WHERE sla_next_at IS NOT NULL;

ALTER TABLE accounts ADD COLUMN takes_cases INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN service_lines TEXT NOT NULL DEFAULT '[]';
ALTER TABLE accounts ADD COLUMN service_categories TEXT NOT NULL DEFAULT '[]';
ALTER TABLE accounts ADD COLUMN service_radius_km REAL;
ALTER TABLE accounts ADD COLUMN service_capacity INTEGER;
-- Dispatch reads the partners that take cases.
CREATE INDEX accounts__takes_cases ON accounts (takes_cases) WHERE takes_cases;
