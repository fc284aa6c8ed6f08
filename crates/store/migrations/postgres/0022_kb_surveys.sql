-- The knowledge base and satisfaction surveys. An article is a record (service agents and
-- administrators write it), searched like the rest; a case names the article that resolved
-- it. A survey is a customer's dated CSAT/NPS answer on a resolved case, owned like the case.
-- A survey token is the random part of the link e-mailed after a case is resolved: one per
-- case, used once.
CREATE TABLE articles (
    id UUID PRIMARY KEY,
    version BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    deleted_at TIMESTAMPTZ,
    title TEXT,
    title_en TEXT,
    body TEXT,
    body_en TEXT,
    category TEXT,
    status TEXT,
    tags JSONB NOT NULL DEFAULT '[]',
    product_lines JSONB NOT NULL DEFAULT '[]',
    custom JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX articles__status ON articles (status);

ALTER TABLE cases ADD COLUMN article_id UUID;
-- An article's usage: the cases it resolved.
CREATE INDEX cases__article_id ON cases (article_id) WHERE article_id IS NOT NULL;

CREATE TABLE surveys (
    id UUID PRIMARY KEY,
    version BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    deleted_at TIMESTAMPTZ,
    owner_id UUID,
    team_id UUID,
    case_id UUID,
    contact_id UUID,
    account_id UUID,
    partner_id UUID,
    csat BIGINT,
    nps BIGINT,
    comment TEXT,
    answered_at TIMESTAMPTZ,
    channel TEXT,
    custom JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX surveys__case_id ON surveys (case_id);
CREATE INDEX surveys__contact_id ON surveys (contact_id);
CREATE INDEX surveys__account_id ON surveys (account_id);
CREATE INDEX surveys__partner_id ON surveys (partner_id);
CREATE INDEX surveys__owner_id ON surveys (owner_id);
CREATE INDEX surveys__team_id ON surveys (team_id);

CREATE TABLE survey_tokens (
    token TEXT PRIMARY KEY,
    case_id UUID NOT NULL UNIQUE,
    contact_id UUID NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    answered_at TIMESTAMPTZ
);
