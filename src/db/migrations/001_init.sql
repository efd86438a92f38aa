-- The index: one row per slide with its pyramid, label sources, per-class statistics and the
-- label raster tiles. Written only by the indexer (into a new file that replaces the old one);
-- the service opens it read-only.

CREATE TABLE dataset (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;

CREATE TABLE classes (
  value       INTEGER PRIMARY KEY CHECK (value BETWEEN 0 AND 255),
  name        TEXT NOT NULL UNIQUE,
  category    TEXT,
  color       TEXT NOT NULL,
  description TEXT
) STRICT;

CREATE TABLE slides (
  id               TEXT PRIMARY KEY,
  file_name        TEXT NOT NULL,
  rel_path         TEXT NOT NULL,
  file_size        INTEGER NOT NULL,
  file_mtime_ms    INTEGER NOT NULL,
  input_key        TEXT NOT NULL,
  etag             TEXT NOT NULL,
  status           TEXT NOT NULL CHECK (status IN ('ok', 'unsupported')),
  status_reason    TEXT,
  format           TEXT NOT NULL,
  big_tiff         INTEGER NOT NULL,
  width            INTEGER NOT NULL,
  height           INTEGER NOT NULL,
  mpp_x            REAL,
  mpp_y            REAL,
  compression      TEXT NOT NULL,
  compression_code INTEGER NOT NULL,
  photometric      TEXT NOT NULL,
  tile_width       INTEGER NOT NULL,
  tile_height      INTEGER NOT NULL,
  label_downsample REAL,
  label_width      INTEGER,
  label_height     INTEGER,
  label_levels     INTEGER,
  labelled_px      INTEGER NOT NULL DEFAULT 0,
  tissue_px        INTEGER,
  ingested_at      TEXT NOT NULL
) STRICT;

CREATE TABLE slide_levels (
  slide_id    TEXT NOT NULL REFERENCES slides(id) ON DELETE CASCADE,
  level       INTEGER NOT NULL,
  ifd         INTEGER NOT NULL,
  width       INTEGER NOT NULL,
  height      INTEGER NOT NULL,
  downsample  REAL NOT NULL,
  tile_width  INTEGER NOT NULL,
  tile_height INTEGER NOT NULL,
  PRIMARY KEY (slide_id, level)
) STRICT, WITHOUT ROWID;

CREATE TABLE label_sources (
  slide_id  TEXT NOT NULL REFERENCES slides(id) ON DELETE CASCADE,
  position  INTEGER NOT NULL,
  source_id TEXT NOT NULL,
  format    TEXT NOT NULL,
  rel_path  TEXT NOT NULL,
  file_size INTEGER NOT NULL,
  shapes    INTEGER,
  downsample REAL NOT NULL,
  PRIMARY KEY (slide_id, position)
) STRICT, WITHOUT ROWID;

-- Per slide and class: pixels in the label raster, level-0 area and bounding box.
CREATE TABLE slide_classes (
  slide_id  TEXT NOT NULL REFERENCES slides(id) ON DELETE CASCADE,
  value     INTEGER NOT NULL,
  raster_px INTEGER NOT NULL,
  area_l0   REAL NOT NULL,
  area_um2  REAL,
  x0 INTEGER NOT NULL, y0 INTEGER NOT NULL, x1 INTEGER NOT NULL, y1 INTEGER NOT NULL,
  PRIMARY KEY (slide_id, value)
) STRICT, WITHOUT ROWID;
CREATE INDEX slide_classes_by_value ON slide_classes(value, slide_id);

-- Label raster tiles; absent = all 0. `uniform` set = every pixel has that value.
CREATE TABLE label_tiles (
  slide_id TEXT NOT NULL REFERENCES slides(id) ON DELETE CASCADE,
  level    INTEGER NOT NULL,
  ty       INTEGER NOT NULL,
  tx       INTEGER NOT NULL,
  uniform  INTEGER,
  data     BLOB,
  CHECK ((uniform IS NULL) <> (data IS NULL)),
  PRIMARY KEY (slide_id, level, ty, tx)
) STRICT, WITHOUT ROWID;

-- Pixel counts per base-level tile and class: what the patch sampler draws from.
CREATE TABLE label_tile_counts (
  slide_id TEXT NOT NULL REFERENCES slides(id) ON DELETE CASCADE,
  value    INTEGER NOT NULL,
  ty       INTEGER NOT NULL,
  tx       INTEGER NOT NULL,
  count    INTEGER NOT NULL,
  PRIMARY KEY (slide_id, value, ty, tx)
) STRICT, WITHOUT ROWID;

-- Files the last ingest could not index, with the reason (the previous version, if any, stays).
CREATE TABLE ingest_problems (
  rel_path TEXT NOT NULL,
  slide_id TEXT,
  code      TEXT NOT NULL,
  detail    TEXT NOT NULL,
  -- The inputs that failed: an unchanged bad file is not retried by the next ingest.
  input_key TEXT
) STRICT;
