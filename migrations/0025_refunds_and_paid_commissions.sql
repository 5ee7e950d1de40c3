-- Refunds of payments, and commissions marked paid.

-- What has been refunded of a payment; never more than it (the refund's guarded update
-- checks it too, race-free).
ALTER TABLE payments ADD COLUMN refunded_minor INTEGER NOT NULL DEFAULT 0
  CHECK (refunded_minor >= 0 AND refunded_minor <= amount_minor);

CREATE TABLE payment_refunds (
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
CREATE INDEX payment_refunds_by_payment ON payment_refunds (tenant_id, payment_id, id);

-- A commission is paid after it was approved: the status CHECK gains 'paid' (SQLite
-- cannot alter a CHECK, so the table is rebuilt with its rows and indexes).
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
INSERT INTO commissions_next (tenant_id, id, sale_id, broker_id, amount_minor, currency,
  rate_bps, status, approved_by, approved_at, created_at, updated_at)
SELECT tenant_id, id, sale_id, broker_id, amount_minor, currency, rate_bps, status,
  approved_by, approved_at, created_at, updated_at FROM commissions;
DROP TABLE commissions;
ALTER TABLE commissions_next RENAME TO commissions;
CREATE INDEX commissions_by_broker ON commissions (tenant_id, broker_id, id);
CREATE INDEX commissions_by_status ON commissions (tenant_id, status, id);
CREATE INDEX commissions_by_sale ON commissions (tenant_id, sale_id);
CREATE INDEX commissions_by_created ON commissions (tenant_id, created_at);
