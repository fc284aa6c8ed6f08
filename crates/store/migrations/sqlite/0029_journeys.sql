-- Journeys and replies (issue 18): a campaign's steps after its message, and where each member stands
-- on each step. A member's row for a step is made when its parent is done (the campaign's
-- message sent, or the parent step run), due after the step's wait; the steps job takes
-- the due rows (state due → running, held by the job like campaign members), runs them
-- (done, skipped when the condition does not hold, refused, failed) and makes the rows of
-- the steps after. A step's own e-mail is tracked on its row: opened_at, clicked_at.
ALTER TABLE campaigns ADD COLUMN steps TEXT NOT NULL DEFAULT '[]';

CREATE TABLE campaign_steps (
    campaign_id BLOB NOT NULL,
    contact_id BLOB NOT NULL,
    step_id BLOB NOT NULL,
    state TEXT NOT NULL,
    due_at INTEGER NOT NULL,
    detail TEXT,
    interaction_id BLOB,
    done_at INTEGER,
    sent_at INTEGER,
    claimed_by TEXT,
    claimed_at INTEGER,
    opened_at INTEGER,
    clicked_at INTEGER,
    PRIMARY KEY (campaign_id, contact_id, step_id)
);
CREATE INDEX campaign_steps__due ON campaign_steps (campaign_id, state, due_at);
-- The frequency cap counts a contact's journey e-mails with the campaigns' messages.
CREATE INDEX campaign_steps__contact ON campaign_steps (contact_id, sent_at);
-- A reply: an inbound message from a member (a mail, a call, a WeChat message logged or
-- received) within two weeks of the campaign's message.
ALTER TABLE campaign_members ADD COLUMN replied_at INTEGER;
