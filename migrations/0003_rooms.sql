-- Rooms: realtime hubs of their own (`<tenant>:room:<name>`), optionally public.
CREATE TABLE rooms (
  tenant_id   TEXT NOT NULL,
  name        TEXT NOT NULL,
  public      INTEGER NOT NULL DEFAULT 0,
  created_by  TEXT NOT NULL,
  created_at  TEXT NOT NULL,
  PRIMARY KEY (tenant_id, name)
);

-- Which hub an outbox row goes to: '' is the tenant hub, otherwise a room name.
ALTER TABLE outbox ADD COLUMN hub TEXT NOT NULL DEFAULT '';
