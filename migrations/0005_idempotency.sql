-- Idempotency-Key on POST: the first response per (tenant, key), kept at least 24 h.
CREATE TABLE idempotency (
  tenant_id     TEXT NOT NULL,
  key           TEXT NOT NULL,
  request_hash  TEXT NOT NULL,
  state         TEXT NOT NULL CHECK (state IN ('pending', 'done')),
  status        INTEGER,
  body          TEXT,
  headers       TEXT,                       -- JSON object of replayed headers
  created_ms    INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, key)
);
CREATE INDEX idempotency_age ON idempotency (created_ms);
