-- The duplicate review queue: pairs of records of one entity that look like the same
-- customer, found by a scan, until someone merges or dismisses them. Each pair is stored
-- once, smaller id first, in whatever status, so a later scan does not offer it again.
CREATE TABLE duplicate_candidates (
    id BLOB PRIMARY KEY,
    entity TEXT NOT NULL,
    a_id BLOB NOT NULL,
    b_id BLOB NOT NULL,
    score REAL NOT NULL,
    -- JSON array of what matched: "phone", "email", "credit_code", "company_name", "name".
    reasons TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'dismissed', 'merged')),
    created_at INTEGER NOT NULL,
    decided_at INTEGER,
    decided_by BLOB,
    CHECK (a_id < b_id)
);
CREATE UNIQUE INDEX duplicate_candidates__pair__uniq ON duplicate_candidates (entity, a_id, b_id);
-- The queue: open pairs, best first. A merge closes the pairs of the merged record by b_id too.
CREATE INDEX duplicate_candidates__open ON duplicate_candidates (entity, score DESC, id) WHERE status = 'open';
CREATE INDEX duplicate_candidates__b_id ON duplicate_candidates (entity, b_id);
-- A merge moves every row that refers to the merged record; these references had no index,
-- so each merge would read the whole table.
CREATE INDEX leads__converted_account_id ON leads (converted_account_id) WHERE converted_account_id IS NOT NULL;
CREATE INDEX leads__converted_contact_id ON leads (converted_contact_id) WHERE converted_contact_id IS NOT NULL;
CREATE INDEX opportunities__lead_id ON opportunities (lead_id) WHERE lead_id IS NOT NULL;
CREATE INDEX users__partner_id ON users (partner_id) WHERE partner_id IS NOT NULL;
