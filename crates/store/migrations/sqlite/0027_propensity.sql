-- Target selection by a response-propensity model: a campaign may reach only the contacts
-- of its segment a logistic model ranks highest (the top N, or those scoring at least s);
-- the model that chose them (its hold-out AUC, when it was fitted) is kept on the campaign
-- and each member's score on its row, so the results can say what selected them.
ALTER TABLE campaigns ADD COLUMN targeting TEXT NOT NULL DEFAULT 'all';
ALTER TABLE campaigns ADD COLUMN target_top_n BIGINT;
ALTER TABLE campaigns ADD COLUMN target_min_score REAL;
ALTER TABLE campaigns ADD COLUMN model_auc REAL;
ALTER TABLE campaigns ADD COLUMN model_trained_at INTEGER;
ALTER TABLE campaign_members ADD COLUMN score REAL;
