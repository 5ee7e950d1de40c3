-- The browser origins of a brokerage's own front ends (JSON array; NULL: none beyond the
-- deployment's CORS_ORIGINS).
ALTER TABLE tenants ADD COLUMN cors_origins TEXT;
