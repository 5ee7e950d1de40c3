-- Optimistic concurrency: a `version` per customer, user and follow-up, bumped by every
-- update (existing rows start at 1). And the tenant's finance settings: the highest
-- commission rate a broker may set on their own sale (NULL = brokers may not set one).
ALTER TABLE customers ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE users ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE followups ADD COLUMN version INTEGER NOT NULL DEFAULT 1;

CREATE TABLE finance_settings (
  tenant_id                     TEXT NOT NULL PRIMARY KEY,
  broker_rate_override_max_bps  INTEGER CHECK (broker_rate_override_max_bps BETWEEN 0 AND 10000),
  updated_by                    TEXT NOT NULL,
  updated_at                    TEXT NOT NULL
);
