-- Jobs v2: every queue (email, sms, publishing, matching, reports) shares one jobs table
-- with a `retrying` status, progress, run timestamps and a claim lease; poison queue
-- messages are kept in dead_letters. SQLite cannot alter a CHECK, so the table is rebuilt.
CREATE TABLE jobs_v2 (
  tenant_id    TEXT NOT NULL,
  id           TEXT NOT NULL,
  queue        TEXT NOT NULL,
  kind         TEXT NOT NULL,
  status       TEXT NOT NULL CHECK (status IN ('queued', 'running', 'retrying', 'completed', 'failed', 'dead')),
  attempts     INTEGER NOT NULL DEFAULT 0,
  progress     INTEGER NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
  payload      TEXT NOT NULL,                -- JSON (ids and small parameters only)
  result       TEXT,                         -- JSON
  last_error   TEXT,
  subject      TEXT,                         -- the resource the job works on ('listing:lst_..')
  lease_until  TEXT,                         -- a running claim expires then (crashed consumer)
  created_by   TEXT NOT NULL,
  created_at   TEXT NOT NULL,
  updated_at   TEXT NOT NULL,
  started_at   TEXT,
  finished_at  TEXT,
  PRIMARY KEY (tenant_id, id)
);
INSERT INTO jobs_v2 (tenant_id, id, queue, kind, status, attempts, progress, payload, result,
                     last_error, created_by, created_at, updated_at, finished_at)
  SELECT tenant_id, id, queue, kind, status, attempts,
         CASE WHEN status = 'completed' THEN 100 ELSE 0 END, payload, result, last_error,
         created_by, created_at, updated_at,
         CASE WHEN status IN ('completed', 'dead') THEN updated_at END
  FROM jobs;
DROP TABLE jobs;
ALTER TABLE jobs_v2 RENAME TO jobs;

-- GET /api/jobs lists newest first, optionally by status, queue or subject.
CREATE INDEX jobs_by_status ON jobs (tenant_id, status, id);
CREATE INDEX jobs_by_queue ON jobs (tenant_id, queue, id);
CREATE INDEX jobs_by_subject ON jobs (tenant_id, subject);
-- The cron's sweep for queued jobs whose queue send was lost (operator-level, all tenants).
CREATE INDEX jobs_stale_queued ON jobs (updated_at) WHERE status IN ('queued', 'retrying');

-- Queue messages that could not be read as a job (poison) or named no known job.
CREATE TABLE dead_letters (
  id          TEXT PRIMARY KEY,
  queue       TEXT NOT NULL,
  message_id  TEXT NOT NULL,
  reason      TEXT NOT NULL,
  body        TEXT NOT NULL,                 -- first 2 KB of the message body
  created_at  TEXT NOT NULL,
  UNIQUE (queue, message_id)
);

-- What the `record` providers "sent" now covers sms and publishing as well as email.
-- (sent_messages.channel is free text: 'email' | 'sms' | 'publishing:<platform>'.)
