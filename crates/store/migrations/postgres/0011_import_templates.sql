-- Import mapping templates: a named column mapping ("姓名=name,手机=mobile,…") for one
-- entity, saved from an import and shared with everyone who may import that entity, so
-- the next file of the same shape imports without a hand-written mapping.
CREATE TABLE import_templates (
    id UUID PRIMARY KEY,
    entity TEXT NOT NULL,
    name TEXT NOT NULL,
    spec TEXT NOT NULL,
    owner_id UUID NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX import_templates__name__uniq ON import_templates (entity, name);
