-- Listing publishing (listings, their per-platform publications, schedules) and reports.
CREATE TABLE listings (
  tenant_id     TEXT NOT NULL,
  id            TEXT NOT NULL,
  property_id   TEXT NOT NULL,
  title         TEXT NOT NULL,
  description   TEXT,
  price_minor   INTEGER NOT NULL,
  currency      TEXT NOT NULL,
  city          TEXT,
  kind          TEXT,
  bedrooms      INTEGER,
  platforms     TEXT NOT NULL,                -- JSON array of platform names
  status        TEXT NOT NULL CHECK (status IN ('draft', 'publishing', 'published', 'partially_published', 'failed')),
  created_by    TEXT NOT NULL,
  created_at    TEXT NOT NULL,
  updated_at    TEXT NOT NULL,
  published_at  TEXT,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX listings_by_status ON listings (tenant_id, status, id);
CREATE INDEX listings_by_property ON listings (tenant_id, property_id, id);

CREATE TABLE listing_publications (
  tenant_id     TEXT NOT NULL,
  listing_id    TEXT NOT NULL,
  platform      TEXT NOT NULL,
  status        TEXT NOT NULL CHECK (status IN ('queued', 'publishing', 'published', 'failed')),
  job_id        TEXT,
  external_id   TEXT,
  url           TEXT,
  attempts      INTEGER NOT NULL DEFAULT 0,
  last_error    TEXT,
  published_at  TEXT,
  updated_at    TEXT NOT NULL,
  PRIMARY KEY (tenant_id, listing_id, platform)
);

CREATE TABLE publishing_schedules (
  tenant_id     TEXT NOT NULL,
  id            TEXT NOT NULL,
  listing_id    TEXT NOT NULL,
  platforms     TEXT NOT NULL,                -- JSON array
  run_at        TEXT NOT NULL,
  status        TEXT NOT NULL CHECK (status IN ('pending', 'started', 'cancelled')),
  job_ids       TEXT NOT NULL DEFAULT '[]',   -- JSON array, once started
  created_by    TEXT NOT NULL,
  created_at    TEXT NOT NULL,
  started_at    TEXT,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX schedules_by_listing ON publishing_schedules (tenant_id, listing_id, id);
CREATE INDEX schedules_by_status ON publishing_schedules (tenant_id, status, id);
-- The cron's sweep for due schedules (operator-level, all tenants).
CREATE INDEX schedules_due ON publishing_schedules (run_at) WHERE status = 'pending';

CREATE TABLE reports (
  tenant_id     TEXT NOT NULL,
  id            TEXT NOT NULL,
  kind          TEXT NOT NULL CHECK (kind IN ('sales_summary', 'commissions_by_broker', 'pipeline', 'appointments')),
  format        TEXT NOT NULL CHECK (format IN ('csv', 'json')),
  from_ts       TEXT NOT NULL,
  to_ts         TEXT NOT NULL,
  status        TEXT NOT NULL CHECK (status IN ('queued', 'running', 'ready', 'failed')),
  job_id        TEXT NOT NULL,
  object_key    TEXT,                         -- R2 key, once ready
  size_bytes    INTEGER,
  row_count     INTEGER,
  totals        TEXT,                         -- JSON summary, once ready
  error         TEXT,
  created_by    TEXT NOT NULL,
  created_at    TEXT NOT NULL,
  finished_at   TEXT,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX reports_by_kind ON reports (tenant_id, kind, id);
CREATE INDEX reports_by_status ON reports (tenant_id, status, id);
