-- Webhook subscriptions are records (an administrator's, versioned and in the change log).
-- Their secrets are kept apart (webhook_state), so that lists, exports and the change log
-- never carry them; failing_since is when the current run of failed attempts began, which
-- disables a subscription after a day.
CREATE TABLE webhooks (
    id UUID PRIMARY KEY,
    version BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    deleted_at TIMESTAMPTZ,
    name TEXT,
    url TEXT,
    entity TEXT,
    events JSONB NOT NULL DEFAULT '[]',
    user_id UUID,
    active BOOLEAN,
    disabled_at TIMESTAMPTZ,
    disabled_reason TEXT,
    custom JSONB NOT NULL DEFAULT '{}'
);

CREATE TABLE webhook_state (
    webhook_id UUID PRIMARY KEY,
    secret TEXT NOT NULL,
    failing_since TIMESTAMPTZ
);

-- One message per subscription and change (key: what caused it, so a change offered again
-- adds nothing), its body as signed. Deliveries of one record to one subscription go out in
-- the order of seq: a delivery waits while an earlier one of its chain is pending.
CREATE TABLE webhook_deliveries (
    id UUID PRIMARY KEY,
    webhook_id UUID NOT NULL,
    key TEXT NOT NULL,
    entity TEXT NOT NULL,
    record_id UUID NOT NULL,
    seq BIGINT NOT NULL,
    event TEXT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed', 'cancelled')),
    attempts BIGINT NOT NULL DEFAULT 0,
    replays BIGINT NOT NULL DEFAULT 0,
    last_status BIGINT,
    last_error TEXT,
    -- Held by the worker sending it until then: one attempt at a time.
    sending_until TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ
);
CREATE UNIQUE INDEX webhook_deliveries__key ON webhook_deliveries (key);
CREATE INDEX webhook_deliveries__chain ON webhook_deliveries (webhook_id, record_id, seq)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries__log ON webhook_deliveries (webhook_id, id);

-- Every attempt: the answer's status (none when there was no answer), how long it took,
-- what went wrong, the start of the answer.
CREATE TABLE webhook_attempts (
    id UUID PRIMARY KEY,
    delivery_id UUID NOT NULL,
    webhook_id UUID NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    status_code BIGINT,
    duration_ms BIGINT NOT NULL,
    error TEXT,
    response TEXT NOT NULL DEFAULT ''
);
CREATE INDEX webhook_attempts__delivery ON webhook_attempts (delivery_id, at);
