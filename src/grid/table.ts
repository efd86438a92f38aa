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
import { gridCells, type Rect } from './cells.js';
import { csvField, csvNames, csvLines, FractionText } from './csv.js';
import { SlideGrid } from './slide-grid.js';

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
/** JSON rows written between looks at the socket (backpressure, a client gone) and the event loop. */
const ROWS_PER_CHUNK = 2000;
/** CSV: a chunk of about 64 KiB of text (a grid row's lines at a time) between looks. */
const CHUNK_CHARS = 64 * 1024;
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

/** The slide's grid, or null when it has no rows at this resolution. */
function slideGrid(g: Generation, s: SlideRow, p: GridParams): SlideGrid | null {
  const scale = cellScale(g, s, p);
  if (!hasGrid(g, s) || scale instanceof AppError) return null;
  return new SlideGrid(g, s, p.rect, scale.sizeL0, scale.strideL0);
}

/**
 * Rows of one slide, cell by cell (y, then x):
 * [slideId, x, y, sizeL0, ...fractions, labelled, tissue, unlabelled-tissue, majority].
 */
export function* slideRows(g: Generation, s: SlideRow, p: GridParams): Generator<Array<string | number | null>> {
  const grid = slideGrid(g, s, p);
  if (!grid) return;
  const name = new Map(g.taxonomy.map((c) => [c.value, c.name]));
  for (const j of grid.blocks()) {
    for (let c = grid.c0; c < grid.c1; c++) {
      const m = grid.majority(c);
      yield [
        s.id,
        grid.xs[c]!,
        grid.ys[j]!,
        grid.sizeL0,
        ...g.taxonomy.map((k) => grid.fraction(c, k.value)),
        1 - grid.fraction(c, 0),
        grid.tissueFraction(c),
        grid.unlabelledTissueFraction(c),
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
  const chunks = format === 'csv' ? csvChunks(g, slides, p, columns) : jsonChunks(g, slides, p, columns);
  for (const chunk of chunks) {
    if (!res.write(chunk)) await new Promise<void>((resolve) => res.once('drain', resolve).once('close', resolve));
    else await new Promise((resolve) => setImmediate(resolve));
    if (gone) return;
  }
  res.end();
}

/** CSV text in chunks of about CHUNK_CHARS, the header first. */
function* csvChunks(g: Generation, slides: SlideRow[], p: GridParams, columns: string[]): Generator<string> {
  let chunk = `${columns.map(csvField).join(',')}\n`;
  const text = new FractionText();
  for (const s of slides) {
    const grid = slideGrid(g, s, p);
    if (!grid) continue;
    const names = csvNames(g, grid);
    for (const j of grid.blocks()) {
      chunk += csvLines(g, grid, j, text, names);
      if (chunk.length >= CHUNK_CHARS) {
        yield chunk;
        chunk = '';
      }
    }
  }
  yield chunk;
}

/** A JSON array of row objects in chunks of ROWS_PER_CHUNK rows. */
function* jsonChunks(g: Generation, slides: SlideRow[], p: GridParams, columns: string[]): Generator<string> {
  const line = jsonRow(columns);
  let chunk: string[] = ['['];
  let first = true;
  for (const s of slides) {
    for (const r of slideRows(g, s, p)) {
      chunk.push(first ? line(r) : `,${line(r)}`);
      first = false;
      if (chunk.length >= ROWS_PER_CHUNK) {
        yield chunk.join('');
        chunk = [];
      }
    }
  }
  chunk.push(']');
  yield chunk.join('');
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

function jsonRow(columns: string[]): (r: Array<string | number | null>) => string {
  return (r) => JSON.stringify(Object.fromEntries(columns.map((c, i) => [c, r[i]])));
}
