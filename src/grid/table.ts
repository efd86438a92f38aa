/**
 * Patch-level label tables: one row per grid cell with the fraction of every class. Fractions
 * come from the sampler's own patchFractions (the same label pixels, the same arithmetic), so a
 * cell's fractions equal /samples' `fractions` for the same rectangle exactly. CSV and JSON are
 * streamed slide by slide with backpressure; Parquet (hyparquet-writer) is built in memory.
 */
import type { Response } from 'express';
import { parquetWriteBuffer } from 'hyparquet-writer';
import type { SlideRow } from '../catalogue/repo.js';
import { AppError } from '../errors.js';
import type { Generation } from '../generation.js';
import { labelRaster } from '../labels/slide-raster.js';
import { descriptorFractions } from '../patches/sampler.js';
import { isTissueValue, TISSUE_VALUE, UNLABELLED_TISSUE_VALUE } from '../tissue/selectors.js';
import { gridCells, majorityOf, type Rect } from './cells.js';

export type GridFormat = 'csv' | 'json' | 'parquet';

export interface GridParams {
  size: number;
  stride: number;
  level: number | null;
  mpp: number | null;
  rect: Rect | null;
}

/** Parquet is assembled in memory: ~100 bytes a row while building, so bound it. */
export const MAX_PARQUET_ROWS = 2_000_000;
/** Rows written between looks at the socket (backpressure, a client gone) and the event loop. */
const ROWS_PER_CHUNK = 2000;
const CONTENT_TYPES: Record<GridFormat, string> = {
  csv: 'text/csv; charset=utf-8',
  json: 'application/json',
  parquet: 'application/vnd.apache.parquet',
};

/** Side and stride of the cells in level-0 pixels on a slide, or the reason the slide cannot serve them. */
export function cellScale(g: Generation, s: SlideRow, p: GridParams): { sizeL0: number; strideL0: number } | AppError {
  let l0PerPixel: number;
  if (p.level !== null) {
    const levels = g.catalogue.levels(s.id);
    const l = levels[p.level];
    if (!l)
      return new AppError(
        422,
        'LEVEL_OUT_OF_RANGE',
        `slide "${s.id}" has levels 0..${levels.length - 1}, not ${p.level}`,
      );
    l0PerPixel = l.downsample;
  } else {
    if (s.mpp_x === null)
      return new AppError(422, 'MPP_UNKNOWN', `slide "${s.id}" does not say its resolution: ask by level`);
    if (p.mpp! < s.mpp_x * 0.999)
      return new AppError(
        422,
        'MPP_TOO_FINE',
        `slide "${s.id}" is scanned at ${s.mpp_x} um/px: ${p.mpp} would upsample`,
      );
    l0PerPixel = p.mpp! / s.mpp_x;
  }
  // The same product as /samples' sizeL0, so the two describe the very same rectangle.
  return { sizeL0: p.size * l0PerPixel, strideL0: p.stride * l0PerPixel };
}

/**
 * Column names: the cell, one per class of the taxonomy, the labelled share, the detected tissue's
 * share and its unlabelled part (empty for a slide indexed before tissue detection), the majority class.
 */
export function gridColumns(g: Generation): string[] {
  return [
    'slideId',
    'x',
    'y',
    'sizeL0',
    ...g.taxonomy.map((c) => c.name),
    'labelled',
    'tissue',
    'unlabelled-tissue',
    'majority',
  ];
}

/** A slide has grid rows when it has labels or tissue. */
export function hasGrid(g: Generation, s: SlideRow): boolean {
  return labelRaster(s) !== null || g.tissue.raster(s) !== null;
}

/**
 * Rows of one slide, cell by cell (y, then x):
 * [slideId, x, y, sizeL0, ...fractions, labelled, tissue, unlabelled-tissue, majority].
 */
export function* slideRows(g: Generation, s: SlideRow, p: GridParams): Generator<Array<string | number | null>> {
  const scale = cellScale(g, s, p);
  if (!hasGrid(g, s) || scale instanceof AppError) return;
  const tissue = g.tissue.raster(s) !== null;
  const { xs, ys } = gridCells(s, p.rect, scale.sizeL0, scale.strideL0);
  const name = new Map(g.taxonomy.map((c) => [c.value, c.name]));
  for (const y of ys) {
    for (const x of xs) {
      // The very fractions /samples reports for this rectangle (with tissue: the sampler's own function).
      const f = descriptorFractions(g, { tissue }, s, x, y, scale.sizeL0);
      // Classes only: the tissue selectors' keys (256, 257) are shares of the cell, not classes.
      const m = majorityOf(new Map([...f].filter(([v]) => !isTissueValue(v))), 0);
      yield [
        s.id,
        x,
        y,
        scale.sizeL0,
        ...g.taxonomy.map((c) => f.get(c.value) ?? 0),
        1 - (f.get(0) ?? 0),
        tissue ? f.get(TISSUE_VALUE)! : null,
        tissue ? f.get(UNLABELLED_TISSUE_VALUE)! : null,
        m === null ? '' : (name.get(m) ?? String(m)),
      ];
    }
  }
}

/** Number of rows the slides give (for the Parquet bound). */
export function countRows(g: Generation, slides: SlideRow[], p: GridParams): number {
  let n = 0;
  for (const s of slides) {
    const scale = cellScale(g, s, p);
    if (scale instanceof AppError || !hasGrid(g, s)) continue;
    const { xs, ys } = gridCells(s, p.rect, scale.sizeL0, scale.strideL0);
    n += xs.length * ys.length;
  }
  return n;
}

/** Writes the table of the slides to the response in the format asked. */
export async function sendGrid(
  res: Response,
  g: Generation,
  slides: SlideRow[],
  p: GridParams,
  format: GridFormat,
  fileStem: string,
): Promise<void> {
  const columns = gridColumns(g);
  if (format === 'parquet') {
    const rows = countRows(g, slides, p);
    if (rows > MAX_PARQUET_ROWS)
      throw new AppError(
        413,
        'GRID_TOO_LARGE',
        `${rows} rows; a Parquet table holds at most ${MAX_PARQUET_ROWS}: ask for CSV (streamed), one slide, or a larger stride`,
      );
  }
  res.setHeader('Content-Type', CONTENT_TYPES[format]);
  res.setHeader('Content-Disposition', `attachment; filename="${fileStem}.${format}"`);
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('X-Dataset-Version', g.datasetVersion);
  if (format === 'parquet') {
    res.end(Buffer.from(parquetTable(g, slides, p, columns)));
    return;
  }
  let gone = false;
  res.on('close', () => (gone = !res.writableFinished));
  const line =
    format === 'csv' ? (r: Array<string | number | null>) => `${r.map(csvField).join(',')}\n` : jsonRow(columns);
  let chunk: string[] = [format === 'csv' ? `${columns.map(csvField).join(',')}\n` : '['];
  let first = true;
  for (const s of slides) {
    for (const r of slideRows(g, s, p)) {
      chunk.push(format === 'json' && !first ? `,${line(r)}` : line(r));
      first = false;
      if (chunk.length >= ROWS_PER_CHUNK) {
        if (!res.write(chunk.join('')))
          await new Promise<void>((resolve) => res.once('drain', resolve).once('close', resolve));
        else await new Promise((resolve) => setImmediate(resolve));
        chunk = [];
        if (gone) return;
      }
    }
  }
  if (format === 'json') chunk.push(']');
  res.end(chunk.join(''));
}

function parquetTable(g: Generation, slides: SlideRow[], p: GridParams, columns: string[]): ArrayBuffer {
  const data: Array<Array<string | number | null>> = columns.map(() => []);
  for (const s of slides) for (const r of slideRows(g, s, p)) r.forEach((v, i) => data[i]!.push(v));
  const types = columns.map(
    (c, i) =>
      (c === 'slideId' || c === 'majority' ? 'STRING' : i === 1 || i === 2 ? 'INT64' : 'DOUBLE') as
        'STRING' | 'INT64' | 'DOUBLE',
  );
  return parquetWriteBuffer({
    columnData: columns.map((name, i) => ({
      name,
      type: types[i]!,
      data: types[i] === 'INT64' ? data[i]!.map((v) => BigInt(v!)) : data[i]!,
    })),
  });
}

/** RFC 4180: quote a field holding a comma, quote or line break. Numbers print shortest round-trip (exact). */
function csvField(v: string | number | null): string {
  if (typeof v === 'number') return String(v); // never needs quotes: no regex for millions of fractions
  const s = v === null ? '' : v;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function jsonRow(columns: string[]): (r: Array<string | number | null>) => string {
  return (r) => JSON.stringify(Object.fromEntries(columns.map((c, i) => [c, r[i]])));
}
