-- Property photos: the files live in R2 (binding PHOTOS) under `object_key`; one row each.
CREATE TABLE property_photos (
  tenant_id     TEXT NOT NULL,
  id            TEXT NOT NULL,                -- unique across tenants: GET /api/photos/:id names no tenant
  property_id   TEXT NOT NULL,
  object_key    TEXT NOT NULL,                -- photos/<tenant>/<property>/<id>
  content_type  TEXT NOT NULL CHECK (content_type IN ('image/jpeg', 'image/png', 'image/webp')),
  bytes         INTEGER NOT NULL,
  width         INTEGER,
  height        INTEGER,
  etag          TEXT,                         -- R2's HTTP ETag, once stored
  origin        TEXT NOT NULL,                -- scheme://host[:port] the photo was uploaded through
  -- Only `stored` rows are shown. `uploading`: the file is on its way to R2; `deleting`: the
  -- photo (or its property) was deleted and its file still has to go. The cron removes the
  -- files of `deleting` rows, and of `uploading` rows left behind, then the rows.
  status        TEXT NOT NULL CHECK (status IN ('uploading', 'stored', 'deleting')),
  status_at     TEXT NOT NULL,
  created_by    TEXT NOT NULL,
  created_at    TEXT NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX photos_by_id ON property_photos (id);
CREATE INDEX photos_by_property ON property_photos (tenant_id, property_id, id);
-- The cron's sweep for files still to remove (operator-level, all tenants).
CREATE INDEX photos_to_purge ON property_photos (status_at) WHERE status <> 'stored';
