-- Listings come off the portals: a publication can be in flight to be withdrawn
-- ('unpublishing', still live until the platform confirms) and withdrawn ('unpublished').
-- SQLite cannot alter a CHECK, so the table is rebuilt with its rows.
CREATE TABLE listing_publications_next (
  tenant_id     TEXT NOT NULL,
  listing_id    TEXT NOT NULL,
  platform      TEXT NOT NULL,
  status        TEXT NOT NULL CHECK (status IN ('queued', 'publishing', 'published', 'failed', 'unpublishing', 'unpublished')),
  job_id        TEXT,
  external_id   TEXT,
  url           TEXT,
  attempts      INTEGER NOT NULL DEFAULT 0,
  last_error    TEXT,
  published_at  TEXT,
  updated_at    TEXT NOT NULL,
  PRIMARY KEY (tenant_id, listing_id, platform)
);
INSERT INTO listing_publications_next SELECT tenant_id, listing_id, platform, status, job_id,
  external_id, url, attempts, last_error, published_at, updated_at FROM listing_publications;
DROP TABLE listing_publications;
ALTER TABLE listing_publications_next RENAME TO listing_publications;
