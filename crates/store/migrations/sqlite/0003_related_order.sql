-- The 360 view lists an account's people by name and its latest cases newest first: with
-- the order in the index, a key account with hundreds of contacts is read in order, not
-- fetched whole and sorted.
DROP INDEX contacts__account_id;
CREATE INDEX contacts__account_id_name ON contacts (account_id, name, id);
DROP INDEX cases__account_id;
CREATE INDEX cases__account_id_id ON cases (account_id, id);
