-- Invitations: an admin invites an email with a role; the invitee sets their own name and
-- password with a one-time token (only its SHA-256 is stored) that lasts 7 days.
CREATE TABLE invitations (
  tenant_id         TEXT NOT NULL,
  id                TEXT NOT NULL,
  email             TEXT NOT NULL,
  role              TEXT NOT NULL CHECK (role IN ('admin', 'broker', 'viewer')),
  token_hash        TEXT NOT NULL UNIQUE,
  invited_by        TEXT NOT NULL,
  created_at        TEXT NOT NULL,
  expires_ms        INTEGER NOT NULL,
  accepted_at       TEXT,
  accepted_user_id  TEXT,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX invitations_by_email ON invitations (tenant_id, email);
