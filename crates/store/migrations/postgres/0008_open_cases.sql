-- The case queue and the dashboards: open cases in order of their SLA deadline, read from
-- the index alone (live rows only, so the deleted_at test needs no table row).
CREATE INDEX cases__status_sla_live ON cases (status, sla_due_at, id) WHERE deleted_at IS NULL;
-- New indexes are chosen well only with statistics on their tables (without them SQLite
-- took the SLA index even for one agent's few cases).
ANALYZE opportunities;
ANALYZE cases;
ANALYZE orders;
