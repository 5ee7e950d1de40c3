-- A match gets an id of its own (the API's handle on it) and a decision: proposed by the
-- matching job, then accepted or rejected by a broker. A re-run never re-proposes a
-- decided match (the job inserts with ON CONFLICT DO NOTHING).
ALTER TABLE matches ADD COLUMN id TEXT;
UPDATE matches SET id = 'mch_' || lower(hex(randomblob(12))) WHERE id IS NULL;
CREATE UNIQUE INDEX matches_by_id ON matches (tenant_id, id);
ALTER TABLE matches ADD COLUMN status TEXT NOT NULL DEFAULT 'proposed'
  CHECK (status IN ('proposed', 'accepted', 'rejected'));
ALTER TABLE matches ADD COLUMN decided_by TEXT;
ALTER TABLE matches ADD COLUMN decided_at TEXT;
