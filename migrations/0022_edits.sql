-- Edits of live records: partial refunds of payments (never past what was paid),
-- commissions marked paid, matches accepted or rejected (each match gets an id).

-- What has been refunded of a payment; the refunds themselves.
ALTER TABLE payments ADD COLUMN refunded_minor INTEGER NOT NULL DEFAULT 0 CHECK (refunded_minor >= 0);
CREATE TABLE refunds (
  tenant_id     TEXT NOT NULL,
  id            TEXT NOT NULL,
  payment_id    TEXT NOT NULL,
  sale_id       TEXT NOT NULL,
  amount_minor  INTEGER NOT NULL CHECK (amount_minor > 0),
  currency      TEXT NOT NULL,
  reason        TEXT NOT NULL,
  created_by    TEXT NOT NULL,
  created_at    TEXT NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX refunds_by_payment ON refunds (tenant_id, payment_id, id);

-- Commissions gain the `paid` status (a CHECK changes only by rebuilding the table).
CREATE TABLE commissions_next (
  tenant_id     TEXT NOT NULL,
  id            TEXT NOT NULL,
  sale_id       TEXT NOT NULL,
  broker_id     TEXT NOT NULL,
  amount_minor  INTEGER NOT NULL CHECK (amount_minor >= 0),
  currency      TEXT NOT NULL,
  rate_bps      INTEGER NOT NULL,
  status        TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'paid')),
  approved_by   TEXT,
  approved_at   TEXT,
  paid_by       TEXT,
  paid_at       TEXT,
  created_at    TEXT NOT NULL,
  updated_at    TEXT NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
INSERT INTO commissions_next (tenant_id, id, sale_id, broker_id, amount_minor, currency, rate_bps,
  status, approved_by, approved_at, created_at, updated_at)
  SELECT tenant_id, id, sale_id, broker_id, amount_minor, currency, rate_bps,
    status, approved_by, approved_at, created_at, updated_at FROM commissions;
DROP TABLE commissions;
ALTER TABLE commissions_next RENAME TO commissions;
CREATE INDEX commissions_by_broker ON commissions (tenant_id, broker_id, id);
CREATE INDEX commissions_by_status ON commissions (tenant_id, status, id);
CREATE INDEX commissions_by_sale ON commissions (tenant_id, sale_id);
CREATE INDEX commissions_by_created ON commissions (tenant_id, created_at);

-- Matches: an id for the API, and the broker's decision.
ALTER TABLE matches ADD COLUMN id TEXT;
UPDATE matches SET id = 'mat_' || lower(hex(randomblob(10))) WHERE id IS NULL;
CREATE UNIQUE INDEX matches_by_id ON matches (tenant_id, id);
ALTER TABLE matches ADD COLUMN status TEXT NOT NULL DEFAULT 'new'
  CHECK (status IN ('new', 'accepted', 'rejected'));
ALTER TABLE matches ADD COLUMN decided_by TEXT;
ALTER TABLE matches ADD COLUMN decided_at TEXT;
