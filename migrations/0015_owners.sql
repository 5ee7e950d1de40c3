-- Property owners, properties, seekers (buyers/tenants looking) and their matches.
CREATE TABLE owners (
  tenant_id   TEXT NOT NULL,
  id          TEXT NOT NULL,
  name        TEXT NOT NULL,
  email       TEXT,
  phone       TEXT,
  notes       TEXT,
  created_by  TEXT NOT NULL,
  created_at  TEXT NOT NULL,
  updated_at  TEXT NOT NULL,
  PRIMARY KEY (tenant_id, id)
);

CREATE TABLE properties (
  tenant_id    TEXT NOT NULL,
  id           TEXT NOT NULL,
  owner_id     TEXT,
  title        TEXT NOT NULL,
  kind         TEXT NOT NULL,
  listing      TEXT NOT NULL,
  price_minor  INTEGER NOT NULL,
  currency     TEXT NOT NULL,
  bedrooms     INTEGER NOT NULL DEFAULT 0,
  bathrooms    INTEGER,
  area_sqm     INTEGER,
  city         TEXT NOT NULL,
  district     TEXT,
  address      TEXT,
  description  TEXT,
  status       TEXT NOT NULL,
  created_by   TEXT NOT NULL,
  created_at   TEXT NOT NULL,
  updated_at   TEXT NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX properties_by_status ON properties (tenant_id, status, id);
CREATE INDEX properties_by_city ON properties (tenant_id, city, id);
CREATE INDEX properties_by_kind ON properties (tenant_id, kind, id);
CREATE INDEX properties_by_owner ON properties (tenant_id, owner_id, id);
CREATE INDEX properties_by_price ON properties (tenant_id, price_minor);

CREATE TABLE seekers (
  tenant_id         TEXT NOT NULL,
  id                TEXT NOT NULL,
  name              TEXT NOT NULL,
  email             TEXT,
  phone             TEXT,
  customer_id       TEXT,
  budget_min_minor  INTEGER,
  budget_max_minor  INTEGER NOT NULL,
  currency          TEXT NOT NULL,
  cities            TEXT NOT NULL DEFAULT '[]',   -- JSON array
  kinds             TEXT NOT NULL DEFAULT '[]',   -- JSON array
  listing           TEXT NOT NULL,
  bedrooms_min      INTEGER,
  notes             TEXT,
  active            INTEGER NOT NULL DEFAULT 1,
  created_by        TEXT NOT NULL,
  created_at        TEXT NOT NULL,
  updated_at        TEXT NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX seekers_by_active ON seekers (tenant_id, active, id);
CREATE INDEX seekers_by_customer ON seekers (tenant_id, customer_id, id);

CREATE TABLE matches (
  tenant_id    TEXT NOT NULL,
  seeker_id    TEXT NOT NULL,
  property_id  TEXT NOT NULL,
  score        INTEGER NOT NULL,
  reasons      TEXT NOT NULL,                  -- JSON array
  job_id       TEXT NOT NULL,                  -- the run that found it
  created_at   TEXT NOT NULL,
  PRIMARY KEY (tenant_id, seeker_id, property_id)
);
CREATE INDEX matches_by_property ON matches (tenant_id, property_id);
CREATE INDEX matches_by_created ON matches (tenant_id, created_at);
