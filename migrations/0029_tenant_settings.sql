-- A brokerage's own settings beside its name (the commission default and maximum stay in
-- commission_rates and finance_settings, where the sales read them).
ALTER TABLE tenants ADD COLUMN timezone TEXT;
ALTER TABLE tenants ADD COLUMN currency TEXT;
ALTER TABLE tenants ADD COLUMN publishing_platforms TEXT;  -- JSON array; NULL: all the deployment's
ALTER TABLE tenants ADD COLUMN updated_by TEXT;
ALTER TABLE tenants ADD COLUMN updated_at TEXT;
