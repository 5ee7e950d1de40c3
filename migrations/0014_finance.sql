-- Finance: sales, payments against them, the broker commissions they earn, and the
-- commission rates per tenant ('' broker) and per broker. Money is integer minor units.
CREATE TABLE sales (
  tenant_id            TEXT NOT NULL,
  id                   TEXT NOT NULL,
  customer_id          TEXT NOT NULL,
  property_id          TEXT,
  broker_id            TEXT NOT NULL,
  total_minor          INTEGER NOT NULL CHECK (total_minor > 0),
  paid_minor           INTEGER NOT NULL DEFAULT 0 CHECK (paid_minor >= 0 AND paid_minor <= total_minor),
  currency             TEXT NOT NULL,
  commission_rate_bps  INTEGER NOT NULL,
  status               TEXT NOT NULL CHECK (status IN ('open', 'paid')),
  sold_at              TEXT NOT NULL,
  notes                TEXT,
  created_by           TEXT NOT NULL,
  created_at           TEXT NOT NULL,
  updated_at           TEXT NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX sales_by_broker ON sales (tenant_id, broker_id, id);
CREATE INDEX sales_by_customer ON sales (tenant_id, customer_id, id);
CREATE INDEX sales_by_status ON sales (tenant_id, status, id);
CREATE INDEX sales_by_sold_at ON sales (tenant_id, sold_at);

CREATE TABLE payments (
  tenant_id     TEXT NOT NULL,
  id            TEXT NOT NULL,
  sale_id       TEXT NOT NULL,
  amount_minor  INTEGER NOT NULL CHECK (amount_minor > 0),
  currency      TEXT NOT NULL,
  method        TEXT NOT NULL CHECK (method IN ('cash', 'card', 'transfer', 'check', 'other')),
  reference     TEXT,
  received_at   TEXT NOT NULL,
  created_by    TEXT NOT NULL,
  created_at    TEXT NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX payments_by_sale ON payments (tenant_id, sale_id, id);

CREATE TABLE commissions (
  tenant_id     TEXT NOT NULL,
  id            TEXT NOT NULL,
  sale_id       TEXT NOT NULL,
  broker_id     TEXT NOT NULL,
  amount_minor  INTEGER NOT NULL CHECK (amount_minor >= 0),
  currency      TEXT NOT NULL,
  rate_bps      INTEGER NOT NULL,
  status        TEXT NOT NULL CHECK (status IN ('pending', 'approved')),
  approved_by   TEXT,
  approved_at   TEXT,
  created_at    TEXT NOT NULL,
  updated_at    TEXT NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX commissions_by_broker ON commissions (tenant_id, broker_id, id);
CREATE INDEX commissions_by_status ON commissions (tenant_id, status, id);
CREATE INDEX commissions_by_sale ON commissions (tenant_id, sale_id);
CREATE INDEX commissions_by_created ON commissions (tenant_id, created_at);

CREATE TABLE commission_rates (
  tenant_id   TEXT NOT NULL,
  broker_id   TEXT NOT NULL,                -- '' = the tenant's default
  rate_bps    INTEGER NOT NULL CHECK (rate_bps BETWEEN 0 AND 10000),
  updated_by  TEXT NOT NULL,
  updated_at  TEXT NOT NULL,
  PRIMARY KEY (tenant_id, broker_id)
);
