-- Claiming walks the due jobs in (run_at, id) order and stops at its limit: the index
-- carries id, so neither database sorts the whole table to find the first few.
DROP INDEX jobs__due;
CREATE INDEX jobs__due ON jobs (state, run_at, id);
