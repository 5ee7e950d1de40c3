-- Pulse foundation: tenants, users, CRM customers, the realtime outbox and background jobs.
-- Every tenant-owned table carries tenant_id and every query filters on it.

CREATE TABLE tenants (
  id          TEXT PRIMARY KEY,
  name        TEXT NOT NULL,
  created_at  TEXT NOT NULL
);

CREATE TABLE users (
  tenant_id   TEXT NOT NULL,
  id          TEXT NOT NULL,
  email       TEXT NOT NULL,
  role        TEXT NOT NULL CHECK (role IN ('admin', 'broker', 'viewer')),
  name        TEXT NOT NULL,
  created_at  TEXT NOT NULL,
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, email)
);

CREATE TABLE customers (
  tenant_id   TEXT NOT NULL,
  id          TEXT NOT NULL,
  name        TEXT NOT NULL,
  email       TEXT,
  phone       TEXT,
  status      TEXT NOT NULL DEFAULT 'lead',
  source      TEXT,
  notes       TEXT,
  created_by  TEXT NOT NULL,
  created_at  TEXT NOT NULL,
  updated_at  TEXT NOT NULL,
  PRIMARY KEY (tenant_id, id)
);

-- Transactional outbox: written in the same D1 batch as the change it describes, then
-- delivered to the tenant's hub Durable Object (which deduplicates by id).
CREATE TABLE outbox (
  id            TEXT PRIMARY KEY,           -- the event id
  tenant_id     TEXT NOT NULL,
  type          TEXT NOT NULL,
  channels      TEXT NOT NULL,              -- JSON array
  data          TEXT NOT NULL,              -- JSON object
  ts            TEXT NOT NULL,
  created_ms    INTEGER NOT NULL,
  delivered_seq INTEGER,                    -- NULL until the hub has it
  attempts      INTEGER NOT NULL DEFAULT 0,
  last_error    TEXT
);
CREATE INDEX outbox_pending ON outbox (tenant_id, created_ms) WHERE delivered_seq IS NULL;
CREATE INDEX outbox_pending_all ON outbox (created_ms) WHERE delivered_seq IS NULL;

CREATE TABLE jobs (
  tenant_id   TEXT NOT NULL,
  id          TEXT NOT NULL,
  queue       TEXT NOT NULL,
  kind        TEXT NOT NULL,
  status      TEXT NOT NULL CHECK (status IN ('queued', 'running', 'completed', 'failed', 'dead')),
  attempts    INTEGER NOT NULL DEFAULT 0,
  payload     TEXT NOT NULL,                -- JSON
  result      TEXT,                         -- JSON
  last_error  TEXT,
  created_by  TEXT NOT NULL,
  created_at  TEXT NOT NULL,
  updated_at  TEXT NOT NULL,
  PRIMARY KEY (tenant_id, id)
);

-- What the local ("record") email provider "sent". Read in dev via GET /api/dev/messages.
CREATE TABLE sent_messages (
  tenant_id   TEXT NOT NULL,
  id          TEXT NOT NULL,
  job_id      TEXT NOT NULL,
  channel     TEXT NOT NULL,                -- 'email'
  recipient   TEXT NOT NULL,
  subject     TEXT NOT NULL,
  body        TEXT NOT NULL,
  created_at  TEXT NOT NULL,
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, job_id)
);
