-- Tissue detected at ingest (src/tissue): a raster like the label raster, at its own downsample
-- (~8 um/px), values 0 = glass or ink, 1 = tissue no label covers, 2 = tissue under a label.
-- A slide indexed before this migration has no row here until its files change or it is re-ingested.
CREATE TABLE tissue_rasters (
  slide_id      TEXT PRIMARY KEY REFERENCES slides(id) ON DELETE CASCADE,
  downsample    REAL NOT NULL,
  width         INTEGER NOT NULL,
  height        INTEGER NOT NULL,
  levels        INTEGER NOT NULL,
  threshold     INTEGER NOT NULL,
  ink_px        INTEGER NOT NULL,
  tissue_px     INTEGER NOT NULL,
  unlabelled_px INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE tissue_tiles (
  slide_id TEXT NOT NULL REFERENCES slides(id) ON DELETE CASCADE,
  level    INTEGER NOT NULL,
  ty       INTEGER NOT NULL,
  tx       INTEGER NOT NULL,
  uniform  INTEGER,
  data     BLOB,
  CHECK ((uniform IS NULL) <> (data IS NULL)),
  PRIMARY KEY (slide_id, level, ty, tx)
) STRICT, WITHOUT ROWID;

CREATE TABLE tissue_tile_counts (
  slide_id TEXT NOT NULL REFERENCES slides(id) ON DELETE CASCADE,
  value    INTEGER NOT NULL,
  ty       INTEGER NOT NULL,
  tx       INTEGER NOT NULL,
  count    INTEGER NOT NULL,
  PRIMARY KEY (slide_id, value, ty, tx)
) STRICT, WITHOUT ROWID;
