-- Calendar appointments and digital business cards (with public pages and scans).
CREATE TABLE appointments (
  tenant_id    TEXT NOT NULL,
  id           TEXT NOT NULL,
  title        TEXT NOT NULL,
  customer_id  TEXT,
  assigned_to  TEXT NOT NULL,
  starts_at    TEXT NOT NULL,
  ends_at      TEXT NOT NULL,
  location     TEXT,
  notes        TEXT,
  status       TEXT NOT NULL CHECK (status IN ('scheduled', 'completed', 'cancelled')),
  outcome      TEXT,
  reminded_at  TEXT,
  created_by   TEXT NOT NULL,
  created_at   TEXT NOT NULL,
  updated_at   TEXT NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX appointments_by_assignee ON appointments (tenant_id, assigned_to, starts_at);
CREATE INDEX appointments_by_start ON appointments (tenant_id, starts_at);
CREATE INDEX appointments_to_remind ON appointments (starts_at) WHERE status = 'scheduled' AND reminded_at IS NULL;

CREATE TABLE cards (
  tenant_id     TEXT NOT NULL,
  id            TEXT NOT NULL,
  slug          TEXT NOT NULL UNIQUE,        -- global: public URLs carry no tenant
  owner_id      TEXT NOT NULL,
  display_name  TEXT NOT NULL,
  title         TEXT,
  phone         TEXT,
  email         TEXT,
  bio           TEXT,
  scans         INTEGER NOT NULL DEFAULT 0,
  created_at    TEXT NOT NULL,
  updated_at    TEXT NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX cards_by_owner ON cards (tenant_id, owner_id, id);

CREATE TABLE card_scans (
  tenant_id   TEXT NOT NULL,
  card_id     TEXT NOT NULL,
  visitor     TEXT NOT NULL,                 -- hash of the IP, never the IP
  source      TEXT,
  at_ms       INTEGER NOT NULL
);
CREATE INDEX card_scans_recent ON card_scans (tenant_id, card_id, visitor, at_ms);
