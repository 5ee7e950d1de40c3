-- The audit trail: who did what, when, with the change set. An outbox row that names its
-- actor (every change a caller makes, failed logins included) gets one audit row from the
-- trigger, in the same batch: the audit is written by the write path itself and cannot be
-- skipped by a handler.
ALTER TABLE outbox ADD COLUMN actor TEXT;

CREATE TABLE audit_log (
  tenant_id   TEXT NOT NULL,
  id          TEXT NOT NULL,                -- aud_<12 hex ms><16 hex>: sorts by time
  at_ms       INTEGER NOT NULL,
  actor       TEXT NOT NULL,                -- a user id, or 'anonymous'
  action      TEXT NOT NULL,                -- the event type
  entity      TEXT,                         -- '<kind>:<id>' from the event's entity channel
  changes     TEXT NOT NULL,                -- JSON: data.changes, else the event's data
  event_id    TEXT NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX audit_by_actor ON audit_log (tenant_id, actor, id);
CREATE INDEX audit_by_entity ON audit_log (tenant_id, entity, id);
CREATE INDEX audit_by_action ON audit_log (tenant_id, action, id);
CREATE INDEX audit_by_age ON audit_log (at_ms);

CREATE TRIGGER outbox_audits AFTER INSERT ON outbox WHEN NEW.actor IS NOT NULL
BEGIN
  INSERT INTO audit_log (tenant_id, id, at_ms, actor, action, entity, changes, event_id)
  VALUES (
    NEW.tenant_id,
    'aud_' || printf('%012x', NEW.created_ms) || lower(hex(randomblob(8))),
    NEW.created_ms,
    NEW.actor,
    NEW.type,
    (SELECT substr(j.value, 8) FROM json_each(NEW.channels) j
       WHERE j.value LIKE 'entity:%' ORDER BY j.key LIMIT 1),
    COALESCE(json_extract(NEW.data, '$.changes'), NEW.data),
    NEW.id
  );
END;
