-- How a campaign sends: a daily window in China time, a frequency cap per contact across
-- campaigns, and a rate limit (issue 18).
ALTER TABLE campaigns ADD COLUMN send_from TEXT;
ALTER TABLE campaigns ADD COLUMN send_until TEXT;
ALTER TABLE campaigns ADD COLUMN cap_messages BIGINT;
ALTER TABLE campaigns ADD COLUMN cap_days BIGINT;
ALTER TABLE campaigns ADD COLUMN max_per_minute BIGINT;
-- The frequency cap counts a contact's messages sent since a time, across campaigns: the
-- contact's index gains the time (and still serves lookups by contact alone).
DROP INDEX campaign_members__contact;
CREATE INDEX campaign_members__contact ON campaign_members (contact_id, sent_at);
