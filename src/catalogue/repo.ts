/**
 * SQL reads of the catalogue: slides, their levels, label sources and class areas, the
 * taxonomy and the dataset. Statements are prepared once per index generation.
 */
import type { Db } from '../db/open.js';
import type { TaxonomyClass } from '../dataset/taxonomy.js';

export interface SlideRow {
  id: string;
  file_name: string;
  rel_path: string;
  /** Size and modification time of the slide file (or object) when it was indexed. */
  file_size: number;
  file_mtime_ms: number;
  etag: string;
  status: 'ok' | 'unsupported';
  status_reason: string | null;
  format: 'generic-tiff' | 'aperio';
  big_tiff: number;
  width: number;
  height: number;
  mpp_x: number | null;
  mpp_y: number | null;
  compression: string;
  compression_code: number;
  photometric: string;
  tile_width: number;
  tile_height: number;
  label_downsample: number | null;
  label_width: number | null;
  label_height: number | null;
  label_levels: number | null;
  tissue_px: number | null;
}

export interface LevelRow {
  level: number;
  ifd: number;
  width: number;
  height: number;
  downsample: number;
  tile_width: number;
  tile_height: number;
}

export interface SourceRow {
  position: number;
  source_id: string;
  format: 'asap-xml' | 'geojson' | 'label-mask' | 'color-mask';
  rel_path: string;
  shapes: number | null;
  downsample: number;
}

export interface ClassAreaRow {
  slide_id: string;
  value: number;
  raster_px: number;
  area_l0: number;
  area_um2: number | null;
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

export interface ProblemRow {
  rel_path: string;
  slide_id: string | null;
  code: string;
  detail: string;
}

export interface SlideFilter {
  classValues: number[] | null;
  status: 'ok' | 'unsupported' | null;
  limit: number;
  offset: number;
}

export interface CatalogueRepo {
  slide(id: string): SlideRow | undefined;
  levels(id: string): LevelRow[];
  sources(id: string): SourceRow[];
  classAreas(ids: readonly string[]): ClassAreaRow[];
  listSlides(f: SlideFilter): { rows: SlideRow[]; total: number };
  taxonomy(): TaxonomyClass[];
  datasetInfo(): Record<string, string>;
  problems(): ProblemRow[];
  slideCount(): number;
}

export function createCatalogueRepo(db: Db): CatalogueRepo {
  const slide = db.prepare<[string], SlideRow>('SELECT * FROM slides WHERE id = ?');
  const levels = db.prepare<[string], LevelRow>(
    'SELECT level, ifd, width, height, downsample, tile_width, tile_height FROM slide_levels WHERE slide_id = ? ORDER BY level',
  );
  const sources = db.prepare<[string], SourceRow>(
    'SELECT position, source_id, format, rel_path, shapes, downsample FROM label_sources WHERE slide_id = ? ORDER BY position',
  );
  const classes = db.prepare<[], TaxonomyClass & { description: string | null }>(
    'SELECT value, name, category, color, description FROM classes ORDER BY value',
  );
  const dataset = db.prepare<[], { key: string; value: string }>('SELECT key, value FROM dataset');
  const problems = db.prepare<[], ProblemRow>(
    'SELECT rel_path, slide_id, code, detail FROM ingest_problems ORDER BY rel_path',
  );
  const count = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM slides');
  const areasOf = db.prepare<[string], ClassAreaRow>(
    'SELECT * FROM slide_classes WHERE slide_id IN (SELECT value FROM json_each(?)) ORDER BY slide_id, value',
  );
  // Filtering by classes is a set query; the JSON array parameter keeps it one prepared statement.
  const list = db.prepare<
    { classes: string | null; status: string | null; limit: number; offset: number },
    SlideRow & { total: number }
  >(`
    SELECT s.*, count(*) OVER () AS total FROM slides s
    WHERE (@status IS NULL OR s.status = @status)
      AND (@classes IS NULL OR EXISTS (SELECT 1 FROM slide_classes c WHERE c.slide_id = s.id AND c.value IN (SELECT value FROM json_each(@classes))))
    ORDER BY s.id LIMIT @limit OFFSET @offset`);
  const levelsOf = new Map<string, LevelRow[]>();
  return {
    slide: (id) => slide.get(id),
    levels: (id) => {
      // Read on every tile, region and IIIF request (twice for IIIF), from an index that does not
      // change under a generation: kept per slide that has levels (unknown ids add nothing).
      let rows = levelsOf.get(id);
      if (!rows) {
        rows = levels.all(id);
        if (rows.length > 0) levelsOf.set(id, rows);
      }
      return rows;
    },
    sources: (id) => sources.all(id),
    classAreas: (ids) => areasOf.all(JSON.stringify(ids)),
    listSlides: (f) => {
      const rows = list.all({
        classes: f.classValues ? JSON.stringify(f.classValues) : null,
        status: f.status,
        limit: f.limit,
        offset: f.offset,
      });
      const total = rows[0]?.total ?? (f.offset > 0 ? countMatching(db, f) : 0);
      return { rows, total };
    },
    taxonomy: () =>
      classes.all().map((c) => ({
        value: c.value,
        name: c.name,
        category: c.category,
        color: c.color,
        ...(c.description ? { description: c.description } : {}),
      })),
    datasetInfo: () => Object.fromEntries(dataset.all().map((r) => [r.key, r.value])),
    problems: () => problems.all(),
    slideCount: () => count.get()!.n,
  };
}

/** The total when the requested page is past the end (the window count has no row to ride on). */
function countMatching(db: Db, f: SlideFilter): number {
  const row = db
    .prepare<{ classes: string | null; status: string | null }, { n: number }>(
      `SELECT count(*) AS n FROM slides s
      WHERE (@status IS NULL OR s.status = @status)
        AND (@classes IS NULL OR EXISTS (SELECT 1 FROM slide_classes c WHERE c.slide_id = s.id AND c.value IN (SELECT value FROM json_each(@classes))))`,
    )
    .get({ classes: f.classValues ? JSON.stringify(f.classValues) : null, status: f.status });
  return row?.n ?? 0;
}
