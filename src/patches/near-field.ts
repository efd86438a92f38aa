/**
 * Distance fields for `region.near`: per slide and set of classes, the distance from every cell of
 * the pooled label raster to the nearest cell holding one of the classes (distance.ts), read from
 * the index and kept in a byte-bounded LRU (a training job sends the same request every epoch).
 * Also cuts a sampler bucket down to the class pixels whose cells lie in the requested band.
 */
import { LRUCache } from 'lru-cache';
import type { SlideRow } from '../catalogue/repo.js';
import type { Generation } from '../generation.js';
import { LABEL_TILE_SIZE } from '../labels/raster.js';
import type { LabelRaster } from '../labels/reader.js';
import { inBand, nearErrorBound, nearShift, poolAny, squaredDistanceTransform } from './distance.js';

export interface NearField {
  /** Raster pixels per cell side (2^shift) and level-0 pixels per cell side. */
  cell: number;
  cellL0: number;
  /** Micrometres per cell side (level-0 pixels x the slide's mpp_x). */
  cellUm: number;
  /** The bound on |reported - true| distance in um (one cell diagonal). */
  errorUm: number;
  width: number;
  height: number;
  /** Distance in cells from each cell to the nearest class cell (Infinity: the slide has none). */
  dist: Float32Array;
  /** Whether any cell holds the classes. */
  any: boolean;
}

/** `maxCells`: config NEAR_MAX_CELLS, the largest cell grid a slide's field may have; `cacheBytes`: fields kept. */
export function createNearFields(g: Generation, maxCells: number, cacheBytes: number) {
  const cache = new LRUCache<string, NearField>({
    maxSize: Math.max(1, cacheBytes),
    sizeCalculation: (f) => f.dist.byteLength + 256,
  });
  const tilesStmt = g.db
    .prepare<[string, number], [number, number]>(
      'SELECT tx, ty FROM label_tile_counts WHERE slide_id = ? AND value = ?',
    )
    .raw(true);
  /** The field of a slide for these class values (sorted), or null when the slide does not say its mpp. */
  return (slide: SlideRow, raster: LabelRaster, values: readonly number[]): NearField | null => {
    if (slide.mpp_x === null) return null;
    const key = `${raster.etag}:${values.join(',')}`;
    const hit = cache.get(key);
    if (hit) return hit;
    const seen = new Set<number>();
    const tiles: number[] = [];
    for (const v of values) {
      for (const [tx, ty] of tilesStmt.iterate(slide.id, v)) {
        if (seen.has(ty * 65536 + tx)) continue;
        seen.add(ty * 65536 + tx);
        tiles.push(tx, ty);
      }
    }
    const member = new Uint8Array(256);
    for (const v of values) member[v] = 1;
    const shift = nearShift(raster.width, raster.height, maxCells, LABEL_TILE_SIZE);
    const pooled = poolAny(
      raster.width,
      raster.height,
      LABEL_TILE_SIZE,
      shift,
      Int32Array.from(tiles),
      (tx, ty) => g.labels.tile(raster, 0, tx, ty),
      member,
    );
    const sq = squaredDistanceTransform(pooled.mask, pooled.width, pooled.height);
    const dist = new Float32Array(sq.length);
    for (let i = 0; i < sq.length; i++) dist[i] = Math.sqrt(sq[i]!);
    const cell = 2 ** shift;
    const cellL0 = cell * raster.downsample;
    const cellUm = cellL0 * slide.mpp_x;
    const field: NearField = {
      cell,
      cellL0,
      cellUm,
      errorUm: nearErrorBound(cellUm),
      width: pooled.width,
      height: pooled.height,
      dist,
      any: tiles.length > 0 && pooled.mask.includes(1),
    };
    cache.set(key, field);
    return field;
  };
}

export type LabelClip = { x0: number; y0: number; x1: number; y1: number };

/**
 * Buckets cut to a band: per slide, class, band and region box, the cells in the band with their
 * pixels of the class (kept like the sampler's region buckets: a training job repeats its
 * request every epoch). Null when the slide has no pixel of the near classes or none in the band.
 */
export function createBandBuckets(g: Generation, maxCells: number, cacheBytes: number) {
  const fields = createNearFields(g, maxCells, Math.floor(cacheBytes / 2));
  // Bounded by bytes: a wide band over full-tissue labels holds ~1 M cells (16 MiB) per slide and class.
  const cache = new LRUCache<string, { tiles: Int32Array; cum: Float64Array }>({
    maxSize: Math.max(1, Math.floor(cacheBytes / 2)),
    sizeCalculation: (b) => b.tiles.byteLength + b.cum.byteLength + 64,
  });
  return (
    near: Band & { values: number[] },
    slide: SlideRow,
    raster: LabelRaster,
    value: number,
    part: { tiles: Int32Array; cum: Float64Array },
    clip: LabelClip | null,
  ): { tiles: Int32Array; cum: Float64Array; unit: number; near: NearField } | null => {
    const f = fields(slide, raster, near.values);
    if (!f || !f.any) return null;
    const where = clip ? `${clip.x0},${clip.y0},${clip.x1},${clip.y1}` : '';
    const key = `${raster.etag}:${value}:${near.values.join(',')}:${near.outsideUm}:${near.withinUm}:${where}`;
    let b = cache.get(key);
    if (!b) cache.set(key, (b = bandBucket(g, raster, f, near, value, part, clip)));
    return b.cum.length === 0 ? null : { tiles: b.tiles, cum: b.cum, unit: f.cell, near: f };
  };
}

/** Distance in um from a level-0 point to the classes, as its cell sees it. */
export function distanceUmAt(f: NearField, x: number, y: number): number {
  const cx = Math.min(f.width - 1, Math.max(0, Math.floor(x / f.cellL0)));
  const cy = Math.min(f.height - 1, Math.max(0, Math.floor(y / f.cellL0)));
  return f.dist[cy * f.width + cx]! * f.cellUm;
}

export interface Band {
  outsideUm: number;
  withinUm: number;
}

/**
 * A whole-slide bucket (label tiles holding `value`, cumulative counts) cut to the cells in the
 * band: units are cells (cx, cy) of f.cell raster pixels, weighted by their pixels of `value`
 * inside `clip` (a label-pixel rectangle: the region box; null: no box).
 */
export function bandBucket(
  g: Generation,
  raster: LabelRaster,
  f: NearField,
  band: Band,
  value: number,
  whole: { tiles: Int32Array; cum: Float64Array },
  clip: LabelClip | null,
): { tiles: Int32Array; cum: Float64Array } {
  const ts = LABEL_TILE_SIZE;
  const cells: number[] = [];
  const cum: number[] = [];
  let total = 0;
  const x0c = clip ? clip.x0 : 0;
  const y0c = clip ? clip.y0 : 0;
  const x1c = Math.min(raster.width, clip ? clip.x1 : Infinity);
  const y1c = Math.min(raster.height, clip ? clip.y1 : Infinity);
  for (let i = 0; i < whole.cum.length; i++) {
    const tx = whole.tiles[2 * i]!;
    const ty = whole.tiles[2 * i + 1]!;
    const tile = g.labels.tile(raster, 0, tx, ty);
    for (let cy = (ty * ts) / f.cell; cy < ((ty + 1) * ts) / f.cell && cy < f.height; cy++) {
      for (let cx = (tx * ts) / f.cell; cx < ((tx + 1) * ts) / f.cell && cx < f.width; cx++) {
        if (!inBand(f.dist[cy * f.width + cx]! * f.cellUm, band.outsideUm, band.withinUm)) continue;
        const px0 = Math.max(cx * f.cell, x0c);
        const py0 = Math.max(cy * f.cell, y0c);
        const px1 = Math.min((cx + 1) * f.cell, x1c);
        const py1 = Math.min((cy + 1) * f.cell, y1c);
        if (px1 <= px0 || py1 <= py0) continue;
        const n = countIn(tile, value, px0 - tx * ts, py0 - ty * ts, px1 - tx * ts, py1 - ty * ts);
        if (n === 0) continue;
        cells.push(cx, cy);
        cum.push((total += n));
      }
    }
  }
  return { tiles: Int32Array.from(cells), cum: Float64Array.from(cum) };
}

/** Pixels of `value` in columns [x0, x1) and rows [y0, y1) of a tile. */
function countIn(tile: Uint8Array | number, value: number, x0: number, y0: number, x1: number, y1: number): number {
  if (typeof tile === 'number') return tile === value ? (x1 - x0) * (y1 - y0) : 0;
  const ts = LABEL_TILE_SIZE;
  let n = 0;
  for (let y = y0; y < y1; y++) for (let x = y * ts + x0, end = y * ts + x1; x < end; x++) n += +(tile[x] === value);
  return n;
}
