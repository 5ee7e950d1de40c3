-- Jobs always finish, matches are announced once per run, card scans are coalesced, and
-- the cron prunes old rows in bounded slices (each sweep and prune on its own index).

-- The cron's sweeps for runs interrupted past their lease and `failed` jobs left unburied.
CREATE INDEX jobs_running_lease ON jobs (lease_until) WHERE status = 'running';
CREATE INDEX jobs_failed_age ON jobs (updated_at) WHERE status = 'failed';

-- The run (one claim of a job) that inserted the match: its `owners:match:found` is
-- recorded only for rows that run inserted, so a retried or repeated run announces nothing old.
ALTER TABLE matches ADD COLUMN run_id TEXT;

-- Card scans are announced at most once per window per card: the last announcement's time
-- and id, and the scans counted since (carried as `count` by the next `card:scanned`).
ALTER TABLE cards ADD COLUMN scan_event_ms INTEGER;
ALTER TABLE cards ADD COLUMN scan_event_id TEXT;
ALTER TABLE cards ADD COLUMN scans_pending INTEGER NOT NULL DEFAULT 0;
CREATE INDEX cards_scans_pending ON cards (scan_event_ms) WHERE scans_pending > 0;

-- Pruning by age (operator-level, all tenants).
CREATE INDEX outbox_delivered_age ON outbox (created_ms) WHERE delivered_seq IS NOT NULL;
CREATE INDEX refresh_tokens_expiry ON refresh_tokens (expires_ms);
CREATE INDEX dead_letters_age ON dead_letters (created_at);
CREATE INDEX login_attempts_age ON login_attempts (window_start_ms);
CREATE INDEX card_scans_age ON card_scans (at_ms);
