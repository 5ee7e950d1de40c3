-- Per-tenant IP blocklist (seed 000's checkBlockedIP), managed by tenant admins.
CREATE TABLE blocked_ips (
  tenant_id   TEXT NOT NULL,
  ip          TEXT NOT NULL,
  reason      TEXT,
  created_by  TEXT NOT NULL,
  created_at  TEXT NOT NULL,
  expires_ms  INTEGER,                      -- NULL = until removed
  PRIMARY KEY (tenant_id, ip)
);
