-- Dev seed (stable ids; see CONTRACT.md). Idempotent: safe to run on every `make dev`.
INSERT OR IGNORE INTO tenants (id, name, created_at) VALUES
  ('demo', 'Demo Realty', '2026-01-01T00:00:00.000Z'),
  ('acme', 'Acme Brokerage', '2026-01-01T00:00:00.000Z');
INSERT OR IGNORE INTO users (tenant_id, id, email, role, name, created_at) VALUES
  ('demo', 'demo-admin',  'admin@demo.test',  'admin',  'Demo Admin',  '2026-01-01T00:00:00.000Z'),
  ('demo', 'demo-broker', 'broker@demo.test', 'broker', 'Demo Broker', '2026-01-01T00:00:00.000Z'),
  ('demo', 'demo-viewer', 'viewer@demo.test', 'viewer', 'Demo Viewer', '2026-01-01T00:00:00.000Z'),
  ('acme', 'acme-admin',  'admin@acme.test',  'admin',  'Acme Admin',  '2026-01-01T00:00:00.000Z'),
  ('acme', 'acme-broker', 'broker@acme.test', 'broker', 'Acme Broker', '2026-01-01T00:00:00.000Z'),
  ('acme', 'acme-viewer', 'viewer@acme.test', 'viewer', 'Acme Viewer', '2026-01-01T00:00:00.000Z');
