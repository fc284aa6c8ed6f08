-- Customer analytics on the account, written by `guanxi analytics run`: filterable and
-- sortable like any field, shown wherever the account is.
ALTER TABLE accounts ADD COLUMN rfm_r INTEGER;
ALTER TABLE accounts ADD COLUMN rfm_f INTEGER;
ALTER TABLE accounts ADD COLUMN rfm_m INTEGER;
ALTER TABLE accounts ADD COLUMN rfm_segment TEXT;
ALTER TABLE accounts ADD COLUMN expected_purchases_90d REAL;
ALTER TABLE accounts ADD COLUMN p_alive REAL;
ALTER TABLE accounts ADD COLUMN clv_12m INTEGER;
ALTER TABLE accounts ADD COLUMN clv_12m_currency TEXT;
ALTER TABLE accounts ADD COLUMN grade TEXT;
ALTER TABLE accounts ADD COLUMN lifecycle_stage TEXT;
ALTER TABLE accounts ADD COLUMN churn_risk REAL;
ALTER TABLE accounts ADD COLUMN cross_sell TEXT NOT NULL DEFAULT '[]';
ALTER TABLE accounts ADD COLUMN analytics_at INTEGER;
CREATE INDEX accounts__rfm_segment ON accounts (rfm_segment) WHERE rfm_segment IS NOT NULL;
CREATE INDEX accounts__grade ON accounts (grade) WHERE grade IS NOT NULL;
