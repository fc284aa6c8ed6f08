-- Service that runs: business calendars and SLA policies are records (an administrator's,
-- versioned and in the change log); a case carries its SLA clock and where dispatching it to
-- a service partner stands, both kept by Guanxi (app/src/service.rs); a partner account
-- says whether it takes cases and which.
CREATE TABLE calendars (
    id UUID PRIMARY KEY,
    version BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    deleted_at TIMESTAMPTZ,
    name TEXT,
    time_zone TEXT,
    hours JSONB,
    years JSONB,
    description TEXT,
    custom JSONB NOT NULL DEFAULT '{}'
);

CREATE TABLE sla_policies (
    id UUID PRIMARY KEY,
    version BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    deleted_at TIMESTAMPTZ,
    name TEXT,
    rank BIGINT,
    active BOOLEAN,
    calendar_id UUID,
    categories JSONB NOT NULL DEFAULT '[]',
    priorities JSONB NOT NULL DEFAULT '[]',
    tiers JSONB NOT NULL DEFAULT '[]',
    grades JSONB NOT NULL DEFAULT '[]',
    channels JSONB NOT NULL DEFAULT '[]',
    first_response_minutes BIGINT,
    resolution_minutes BIGINT,
    warn_before_minutes BIGINT,
    pause_statuses JSONB NOT NULL DEFAULT '[]',
    description TEXT,
    custom JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX sla_policies__calendar_id ON sla_policies (calendar_id);

ALTER TABLE cases ADD COLUMN product_id UUID;
ALTER TABLE cases ADD COLUMN order_id UUID;
ALTER TABLE cases ADD COLUMN resolution TEXT;
ALTER TABLE cases ADD COLUMN sla_policy_id UUID;
ALTER TABLE cases ADD COLUMN first_response_due_at TIMESTAMPTZ;
ALTER TABLE cases ADD COLUMN first_response_at TIMESTAMPTZ;
ALTER TABLE cases ADD COLUMN sla_state TEXT;
ALTER TABLE cases ADD COLUMN sla_used_minutes BIGINT;
ALTER TABLE cases ADD COLUMN sla_since TIMESTAMPTZ;
ALTER TABLE cases ADD COLUMN sla_next_at TIMESTAMPTZ;
ALTER TABLE cases ADD COLUMN dispatch_status TEXT;
ALTER TABLE cases ADD COLUMN dispatch_offered_at TIMESTAMPTZ;
ALTER TABLE cases ADD COLUMN dispatch_passed JSONB NOT NULL DEFAULT '[]';
ALTER TABLE cases ADD COLUMN dispatch_reason JSONB;
CREATE INDEX cases__product_id ON cases (product_id);
CREATE INDEX cases__order_id ON cases (order_id);
CREATE INDEX cases__sla_policy_id ON cases (sla_policy_id);
-- The SLA sweep takes the cases whose state changes by itself now (a warning, a breach).
CREATE INDEX cases__sla_next_at ON cases (sla_next_at) WHERE sla_next_at IS NOT NULL;

ALTER TABLE accounts ADD COLUMN takes_cases BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE accounts ADD COLUMN service_lines JSONB NOT NULL DEFAULT '[]';
ALTER TABLE accounts ADD COLUMN service_categories JSONB NOT NULL DEFAULT '[]';
ALTER TABLE accounts ADD COLUMN service_radius_km DOUBLE PRECISION;
ALTER TABLE accounts ADD COLUMN service_capacity BIGINT;
-- Dispatch reads the partners that take cases.
CREATE INDEX accounts__takes_cases ON accounts (takes_cases) WHERE takes_cases;
