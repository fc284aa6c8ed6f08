-- Consent with its history, the suppression list, and what members of a campaign did after
-- its message: bounced, complained, unsubscribed, converted.

-- Every change of a contact's consent on a channel that Guanxi made or was told of, with
-- where it came from (the unsubscribe link, the preferences page, a bounce or complaint, a
-- user recording what the customer said) and its evidence. The contact's consent_* fields
-- hold the current answer; this is how it came to be.
CREATE TABLE consent_events (
    seq INTEGER PRIMARY KEY,
    contact_id BLOB NOT NULL,
    channel TEXT NOT NULL,
    given INTEGER NOT NULL,
    source TEXT NOT NULL,
    evidence TEXT,
    campaign_id BLOB,
    actor_id BLOB NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX consent_events__contact ON consent_events (contact_id, seq);

-- Addresses no mail goes to: hard bounces (no such mailbox) and complaints, or an
-- administrator's entry. Kept by address, not by contact: a duplicate contact with the same
-- address is suppressed too.
CREATE TABLE suppressions (
    address TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    detail TEXT,
    campaign_id BLOB,
    actor_id BLOB NOT NULL,
    at INTEGER NOT NULL
);

-- The responses of a member after the first open and click: the first of each, and the
-- order or won deal a conversion was attributed to, with its revenue and margin in minor
-- units of the campaign's budget currency.
ALTER TABLE campaign_members ADD COLUMN bounced_at INTEGER;
ALTER TABLE campaign_members ADD COLUMN complained_at INTEGER;
ALTER TABLE campaign_members ADD COLUMN unsubscribed_at INTEGER;
ALTER TABLE campaign_members ADD COLUMN converted_at INTEGER;
ALTER TABLE campaign_members ADD COLUMN conversion_id BLOB;
ALTER TABLE campaign_members ADD COLUMN revenue_minor BIGINT;
ALTER TABLE campaign_members ADD COLUMN margin_minor BIGINT;
CREATE INDEX campaign_members__contact ON campaign_members (contact_id);

-- What a message costs (minor units of the budget's currency) and how long after it an
-- order or a won deal counts as its conversion.
ALTER TABLE campaigns ADD COLUMN cost_per_message BIGINT NOT NULL DEFAULT 0;
ALTER TABLE campaigns ADD COLUMN conversion_days BIGINT NOT NULL DEFAULT 30;
-- A bounce names the message it returns; the message is the member's interaction.
CREATE INDEX campaign_members__interaction ON campaign_members (interaction_id) WHERE interaction_id IS NOT NULL;
