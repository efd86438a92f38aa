/**
 * One generation of the index: everything derived from one published index file (repos,
 * taxonomy, dataset version), rebuilt when an ingest publishes a new file.
 */
import { join } from 'node:path';
import { createCatalogueRepo, type CatalogueRepo, type SlideRow } from './catalogue/repo.js';
import type { Db } from './db/open.js';
import type { TaxonomyClass } from './dataset/taxonomy.js';
import { AppError } from './errors.js';
import { SLIDE_ID_PATTERN } from './indexer/scan.js';
import { createLabelReader, type LabelReader } from './labels/reader.js';
import { createTissueIndex, type TissueIndex } from './tissue/index.js';

export interface Generation {
  db: Db;
  catalogue: CatalogueRepo;
  labels: LabelReader;
  /** Detected tissue (src/tissue). */
  tissue: TissueIndex;
  taxonomy: TaxonomyClass[];
  datasetVersion: string;
  /** The slide, or a 404 problem. */
  slide(id: string | undefined): SlideRow;
  /** The slide if its pixels can be served, or a 404/409 problem. */
  readableSlide(id: string | undefined): SlideRow;
  /** Absolute path of the slide file: resolved under the data directory, never from a URL. */
  slidePath(s: SlideRow): string;
  /** Runs a pixel read; a failure of an indexed file becomes a 503 for that slide alone. */
  guardPixels<T>(slideId: string, fn: () => Promise<T>): Promise<T>;
  classTotals(): Map<number, { slides: number; areaPx: number; areaUm2: number | null }>;
}

/** Codes that mean the slide file is missing, damaged or no longer what was indexed. */
const FILE_FAILURES = new Set([
  'PIXELS_UNREADABLE',
  'SLIDE_DAMAGED',
  'SLIDE_CHANGED',
  'NOT_TIFF',
  'TIFF_TRUNCATED',
  'TIFF_BAD_IFD',
  'TIFF_IFD_LOOP',
  'TIFF_NO_IMAGES',
  'TIFF_TOO_MANY_IFDS',
]);

/** Errors of the filesystem (missing, unreadable file), as opposed to bugs. */
function isFileError(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' && /^E[A-Z]+$/.test(code);
}

export function createGeneration(db: Db, dataDir: string, labelCacheBytes: number): Generation {
  const catalogue = createCatalogueRepo(db);
  const labels = createLabelReader(db, labelCacheBytes);
  // Tissue rasters are ~8 um/px, far smaller than label rasters: a small share of the label cache.
  const tissue = createTissueIndex(db, Math.max(1, Math.floor(labelCacheBytes / 8)));
  // Slide rows are read on every tile request: keep the ones that exist for this generation
  // (only those, so requests for made-up ids cannot grow the map).
  const rows = new Map<string, SlideRow>();
  const lookup = (id: string) => {
    let row = rows.get(id);
    if (!row) {
      row = catalogue.slide(id);
      if (row) rows.set(id, row);
    }
    return row;
  };
  const taxonomy = catalogue.taxonomy();
  const datasetVersion = catalogue.datasetInfo().dataset_version ?? 'none';
  let totals: ReturnType<Generation['classTotals']> | null = null;
  const slide = (id: string | undefined): SlideRow => {
    // The pattern check keeps odd ids (traversal, NUL, huge) out of SQL and out of messages.
    const row = id !== undefined && SLIDE_ID_PATTERN.test(id) ? lookup(id) : undefined;
    if (!row)
      throw new AppError(
        404,
        'SLIDE_NOT_FOUND',
        id !== undefined && SLIDE_ID_PATTERN.test(id) ? `no slide "${id}" in the dataset` : 'no such slide',
      );
    return row;
  };
  return {
    db,
    catalogue,
    labels,
    tissue,
    taxonomy,
    datasetVersion,
    slide,
    readableSlide(id) {
      const s = slide(id);
      if (s.status !== 'ok')
        throw new AppError(
          409,
          'SLIDE_UNSUPPORTED',
          `slide "${s.id}" is indexed but cannot be decoded here: ${s.status_reason ?? 'unsupported'}`,
        );
      return s;
    },
    slidePath: (s) => join(dataDir, s.rel_path),
    async guardPixels(slideId, fn) {
      try {
        return await fn();
      } catch (e) {
        // The store did not answer (after its retries): this slide's request, named, may be retried.
        if (e instanceof AppError && e.code === 'STORE_UNAVAILABLE')
          throw new AppError(503, e.code, `slide "${slideId}": ${e.detail}`, { ...e.headers });
        // Only failures of the file itself become "slide unavailable"; limits, bad requests and bugs pass through.
        if (e instanceof AppError ? !FILE_FAILURES.has(e.code) : !isFileError(e)) throw e;
        throw new AppError(
          503,
          'SLIDE_UNAVAILABLE',
          `slide "${slideId}" cannot be read right now (its file is missing or damaged); other slides are not affected; re-ingest to refresh it`,
          { 'Retry-After': '60' },
        );
      }
    },
    classTotals() {
      totals ??= computeTotals(db);
      return totals;
    },
  };
}

function computeTotals(db: Db): ReturnType<Generation['classTotals']> {
  const rows = db
    .prepare<[], { value: number; slides: number; area: number; um2: number | null }>(
      'SELECT value, count(*) AS slides, sum(area_l0) AS area, sum(area_um2) AS um2 FROM slide_classes GROUP BY value',
    )
    .all();
  return new Map(rows.map((r) => [r.value, { slides: r.slides, areaPx: r.area, areaUm2: r.um2 }]));
}
