-- CRM interactions (calls, meetings, ...) and follow-ups with due times.
CREATE TABLE interactions (
  tenant_id    TEXT NOT NULL,
  id           TEXT NOT NULL,
  customer_id  TEXT NOT NULL,
  type         TEXT NOT NULL,
  summary      TEXT NOT NULL,
  occurred_at  TEXT NOT NULL,
  created_by   TEXT NOT NULL,
  created_at   TEXT NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX interactions_by_customer ON interactions (tenant_id, customer_id, id);

CREATE TABLE followups (
  tenant_id    TEXT NOT NULL,
  id           TEXT NOT NULL,
  customer_id  TEXT NOT NULL,
  assigned_to  TEXT NOT NULL,
  due_at       TEXT NOT NULL,
  note         TEXT,
  status       TEXT NOT NULL CHECK (status IN ('open', 'done', 'cancelled')),
  notified_at  TEXT,                        -- when crm:followup:due was emitted
  created_by   TEXT NOT NULL,
  created_at   TEXT NOT NULL,
  updated_at   TEXT NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX followups_by_assignee ON followups (tenant_id, assigned_to, status, due_at);
CREATE INDEX followups_by_customer ON followups (tenant_id, customer_id, id);
-- The cron scans open, not yet notified follow-ups by due time (across tenants).
CREATE INDEX followups_due ON followups (due_at) WHERE status = 'open' AND notified_at IS NULL;
