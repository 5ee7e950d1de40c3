-- Identity (issue 4, part 1): password hashes, rotating refresh tokens, login rate limits.
-- Every index starts with tenant_id.

-- `pbkdf2-sha256$<iterations>$<salt_b64>$<hash_b64>`; NULL = no password set (cannot log in).
ALTER TABLE users ADD COLUMN password_hash TEXT;
ALTER TABLE users ADD COLUMN updated_at TEXT;

-- Refresh tokens are stored as SHA-256 of their secret part only. Each login starts a
-- family; each refresh marks the presented token used (replaced_by = its successor) and
-- adds the successor to the same family. Presenting a used token again is reuse: the whole
-- family is revoked.
CREATE TABLE refresh_tokens (
  tenant_id    TEXT NOT NULL,
  token_hash   TEXT NOT NULL,               -- hex SHA-256 of the token's secret
  family_id    TEXT NOT NULL,
  user_id      TEXT NOT NULL,
  created_ms   INTEGER NOT NULL,
  expires_ms   INTEGER NOT NULL,
  used_ms      INTEGER,                     -- set when rotated
  replaced_by  TEXT,                        -- token_hash of the successor
  revoked_ms   INTEGER,                     -- set by logout, reuse detection, user removal
  PRIMARY KEY (tenant_id, token_hash)
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (tenant_id, family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (tenant_id, user_id);

-- Failed-login counters, fixed windows. key = 'email:<email>' (tenant_id = the tenant) or
-- 'ip:<address>' (tenant_id = '*': one budget per address across tenants).
CREATE TABLE login_attempts (
  tenant_id        TEXT NOT NULL,
  key              TEXT NOT NULL,
  window_start_ms  INTEGER NOT NULL,
  failures         INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, key)
);
