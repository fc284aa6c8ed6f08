-- What the web pages read: a person's deals, cases and orders (the contact page), and the
-- kanban's cards of one stage (open ones by expected close, closed ones newest first).
CREATE INDEX opportunities__contact_id ON opportunities (contact_id) WHERE contact_id IS NOT NULL;
CREATE INDEX cases__contact_id ON cases (contact_id) WHERE contact_id IS NOT NULL;
CREATE INDEX orders__contact_id ON orders (contact_id) WHERE contact_id IS NOT NULL;
CREATE INDEX opportunities__pipeline_stage_close ON opportunities (pipeline_id, stage, expected_close, id);
CREATE INDEX opportunities__pipeline_stage_closed ON opportunities (pipeline_id, stage, closed_at, id);
