/**
 * The tissue rasters of one index generation: where each slide's raster is, its tile reader, and
 * the per-tile counts the sampler draws from. An index written before tissue existed (schema 1,
 * or a slide not rebuilt since) has no raster for the slide: `require` says so with a 409.
 */
import type { SlideRow } from '../catalogue/repo.js';
import type { Db } from '../db/open.js';
import { AppError } from '../errors.js';
import { LABEL_TILE_SIZE } from '../labels/raster.js';
import { createLabelReader, type LabelRaster, type LabelReader } from '../labels/reader.js';
import { TISSUE_LABELLED, TISSUE_UNLABELLED, UNLABELLED_TISSUE_VALUE } from './selectors.js';

export interface TissueIndex {
  reader: LabelReader;
  /** The slide's tissue raster, or null when the index has none for it. */
  raster(s: SlideRow): LabelRaster | null;
  /** The raster, or a 409 naming the request field that needed it. */
  require(s: SlideRow, field: string): LabelRaster;
  /** (tx, ty, count) of base tiles holding pixels the selector (TISSUE_VALUE or UNLABELLED_TISSUE_VALUE) takes. */
  counts(slideId: string, selector: number): Array<[number, number, number]>;
}

interface Row {
  downsample: number;
  width: number;
  height: number;
  levels: number;
}

export function createTissueIndex(db: Db, cacheBytes: number): TissueIndex {
  const present = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'tissue_rasters'").get();
  const reader = createLabelReader(db, cacheBytes, 'tissue_tiles');
  if (!present) {
    const none: TissueIndex = {
      reader,
      raster: () => null,
      require: (s, field) => {
        throw notIndexed(s, field);
      },
      counts: () => [],
    };
    return none;
  }
  const one = db.prepare<[string], Row>(
    'SELECT downsample, width, height, levels FROM tissue_rasters WHERE slide_id = ?',
  );
  const countsStmt = db
    .prepare<[string, number, number], [number, number, number]>(
      `SELECT tx, ty, SUM(count) FROM tissue_tile_counts WHERE slide_id = ? AND value IN (?, ?)
       GROUP BY ty, tx ORDER BY ty, tx`,
    )
    .raw(true);
  const rows = new Map<string, LabelRaster | null>();
  const raster = (s: SlideRow): LabelRaster | null => {
    if (!rows.has(s.id)) {
      const r = one.get(s.id);
      rows.set(s.id, r ? { slideId: s.id, etag: s.etag, tileSize: LABEL_TILE_SIZE, ...r } : null);
    }
    return rows.get(s.id)!;
  };
  return {
    reader,
    raster,
    require(s, field) {
      const r = raster(s);
      if (!r) throw notIndexed(s, field);
      return r;
    },
    counts(slideId, selector) {
      const other = selector === UNLABELLED_TISSUE_VALUE ? TISSUE_UNLABELLED : TISSUE_LABELLED;
      return countsStmt.all(slideId, TISSUE_UNLABELLED, other);
    },
  };
}

function notIndexed(s: SlideRow, field: string): AppError {
  return new AppError(
    409,
    'TISSUE_NOT_INDEXED',
    `${field}: slide "${s.id}" was indexed before tissue detection existed: re-ingest it (POST /admin/ingest) to use tissue`,
  );
}
