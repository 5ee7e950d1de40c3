-- Saved notifications. An outbox row whose type is notified (`domain::notifications`) has
-- `notify = 1`; the trigger then stores, in the same batch, one notification per user the
-- event addresses (`user:<id>`, or every user of a `role:<role>`), with the event's
-- channels and data (the read policy is applied when it is read, as for the event).
ALTER TABLE outbox ADD COLUMN notify INTEGER NOT NULL DEFAULT 0;

CREATE TABLE notifications (
  tenant_id   TEXT NOT NULL,
  id          TEXT NOT NULL,                -- ntf_<12 hex ms><16 hex>: sorts by time
  user_id     TEXT NOT NULL,
  event_id    TEXT NOT NULL,
  type        TEXT NOT NULL,
  channels    TEXT NOT NULL,                -- JSON array
  data        TEXT NOT NULL,                -- JSON object
  created_ms  INTEGER NOT NULL,
  read_ms     INTEGER,                      -- NULL while unread
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, user_id, event_id)
);
CREATE INDEX notifications_by_user ON notifications (tenant_id, user_id, id);
CREATE INDEX notifications_unread ON notifications (tenant_id, user_id, id) WHERE read_ms IS NULL;
CREATE INDEX notifications_by_age ON notifications (created_ms);

CREATE TRIGGER outbox_notifies AFTER INSERT ON outbox WHEN NEW.notify = 1
BEGIN
  INSERT OR IGNORE INTO notifications
    (tenant_id, id, user_id, event_id, type, channels, data, created_ms)
  SELECT NEW.tenant_id,
         'ntf_' || printf('%012x', NEW.created_ms) || lower(hex(randomblob(8))),
         u.id, NEW.id, NEW.type, NEW.channels, NEW.data, NEW.created_ms
  FROM users u
  WHERE u.tenant_id = NEW.tenant_id
    AND EXISTS (SELECT 1 FROM json_each(NEW.channels) j
                WHERE j.value = 'user:' || u.id OR j.value = 'role:' || u.role);
END;
