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
-- Dev passwords (contract: pulse-dev-password). PBKDF2-SHA256, 100,000 iterations, salt =
-- first 16 bytes of SHA-256("pulse-dev-seed:<tenant>:<user id>"); regenerate these lines with
-- `cargo run --release --example seed_password`. Set on every run: the seed defines dev state.
UPDATE users SET password_hash = 'pbkdf2-sha256$100000$byEtNDwPiuVaMyrC1QOmTA$9v78AEOJYlGFzVCWI4O0mlrcwz17ogHB3S1bhzMEJZs' WHERE tenant_id = 'demo' AND id = 'demo-admin';
UPDATE users SET password_hash = 'pbkdf2-sha256$100000$s6jN0rtOL1Mc+wFgLKxU+w$w4sqV3Y9GKDkUwyLNCDR1hQn/pgUTxpiV/yPeYZYES0' WHERE tenant_id = 'demo' AND id = 'demo-broker';
UPDATE users SET password_hash = 'pbkdf2-sha256$100000$dK2mhJwsseSZ7KCnvgHsBQ$qK01AkByVEi88TE1CisxSZdmSytXdC5s8Uw1zNEr8LI' WHERE tenant_id = 'demo' AND id = 'demo-viewer';
UPDATE users SET password_hash = 'pbkdf2-sha256$100000$1nJcpBJ3gcvkQW8iryGuSA$hs85brFsRtWS1X2h71uPMxewjX0YdX5eBVCsqC529eg' WHERE tenant_id = 'acme' AND id = 'acme-admin';
UPDATE users SET password_hash = 'pbkdf2-sha256$100000$I/bs3Xt34zfPFaT+n42KkA$c54VQ+WvjwRNFMxnZRmFZKRmU55gKFA1vBxBRKxnQXA' WHERE tenant_id = 'acme' AND id = 'acme-broker';
UPDATE users SET password_hash = 'pbkdf2-sha256$100000$FEVZblw/r61VheH4n3FPDQ$hwNBuq1md+6tB7jA4HlwYcqdQiiui0fXRrYgO6AaYs8' WHERE tenant_id = 'acme' AND id = 'acme-viewer';
