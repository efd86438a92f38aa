/**
 * Counting one raster (labels or tissue) under every cell of a grid row at once. A grid row's
 * cells share their raster rows, so each tile under the row is looked up once for the whole row
 * instead of once per cell (the per-cell lookups, string keys and Maps of patchFractions were most
 * of a 73-slide table's time). The pixels counted are patchFractions' exactly: level 0, the raster
 * pixels whose centres lie in the cell, a window of at least one pixel, 0 outside the raster.
 */
import { levelSize } from '../labels/raster.js';
import { runEnd, wordsOf, type LabelRaster, type LabelReader } from '../labels/reader.js';

/** patchFractions' window along one axis: [start, start + length) raster pixels for a cell at `p` of side `size`. */
export function rasterWindow(p: number, size: number, D: number): { start: number; length: number } {
  const start = Math.ceil(p / D - 0.5) + 0; // + 0: Math.ceil(-0.5) is -0
  return { start, length: Math.max(1, Math.ceil((p + size) / D - 0.5) - start) };
}

/** Cells counted at once: 256 counters each, so at most 2 MiB of counters however fine the grid. */
export const BLOCK_CELLS = 2048;

export class RasterBands {
  /** Per cell of the row, its window's first column and width, and the pixels of the window inside the raster. */
  readonly x0: Int32Array;
  readonly w: Int32Array;
  readonly inside: Float64Array;
  /** Window height of the current row. */
  h = 0;
  /** The cells of the current block: [c0, c1) of the row. */
  c0 = 0;
  c1 = 0;
  /** Per cell of the block, 256 counters (cell c's value v at (c - c0) * 256 + v); zeroed by the next count(). */
  private readonly counts: Uint32Array;
  /** Per cell of the block, the values whose counters are non-zero (unordered). */
  private readonly seenOf: number[][];
  private readonly width: number;
  private readonly height: number;
  private readonly D: number;
  private readonly row: Array<Uint8Array | number | undefined>;

  constructor(
    private readonly reader: LabelReader,
    private readonly r: LabelRaster,
    xs: readonly number[],
    private readonly sizeL0: number,
  ) {
    const n = xs.length;
    this.D = r.downsample;
    ({ width: this.width, height: this.height } = levelSize(r, 0));
    this.x0 = new Int32Array(n);
    this.w = new Int32Array(n);
    xs.forEach((x, c) => {
      const win = rasterWindow(x, sizeL0, this.D);
      this.x0[c] = win.start;
      this.w[c] = win.length;
    });
    this.inside = new Float64Array(n);
    const block = Math.min(n, BLOCK_CELLS);
    this.counts = new Uint32Array(block * 256);
    this.seenOf = Array.from({ length: block }, () => []);
    this.row = new Array<Uint8Array | number | undefined>(Math.ceil(this.width / r.tileSize));
    // One query learns which tiles are uniform, instead of one per tile.
    reader.preload(r, 0);
  }

  /** Counts cells [c0, c1) (at most BLOCK_CELLS) of the grid row at level-0 `y`. */
  count(y: number, c0: number, c1: number): void {
    this.clear();
    this.c0 = c0;
    this.c1 = c1;
    const win = rasterWindow(y, this.sizeL0, this.D);
    this.h = win.length;
    const ya = Math.max(0, win.start);
    const yb = Math.min(this.height, win.start + win.length);
    for (let c = c0; c < c1; c++) {
      const xa = Math.max(0, this.x0[c]!);
      const xb = Math.min(this.width, this.x0[c]! + this.w[c]!);
      this.inside[c] = xb > xa && yb > ya ? (xb - xa) * (yb - ya) : 0;
    }
    if (yb <= ya) return;
    const ts = this.r.tileSize;
    for (let ty = Math.floor(ya / ts); ty <= Math.floor((yb - 1) / ts); ty++) {
      this.row.fill(undefined);
      const cy0 = Math.max(ya, ty * ts) - ty * ts;
      const cy1 = Math.min(yb, ty * ts + ts) - ty * ts;
      for (let c = c0; c < c1; c++) this.countCell(c, ty, cy0, cy1);
    }
  }

  /** Adds the part of cell c's window in tile row ty (tile rows cy0..cy1) to its counters. */
  private countCell(c: number, ty: number, cy0: number, cy1: number): void {
    const ts = this.r.tileSize;
    const xa = Math.max(0, this.x0[c]!);
    const xb = Math.min(this.width, this.x0[c]! + this.w[c]!);
    if (xb <= xa) return;
    const counts = this.counts;
    const seen = this.seenOf[c - this.c0]!;
    const base = (c - this.c0) * 256;
    for (let tx = Math.floor(xa / ts); tx <= Math.floor((xb - 1) / ts); tx++) {
      let t = this.row[tx];
      if (t === undefined) t = this.row[tx] = this.reader.tile(this.r, 0, tx, ty);
      const cx0 = Math.max(xa, tx * ts) - tx * ts;
      const cx1 = Math.min(xb, tx * ts + ts) - tx * ts;
      if (typeof t === 'number') {
        if (counts[base + t] === 0) seen.push(t);
        counts[base + t]! += (cx1 - cx0) * (cy1 - cy0);
        continue;
      }
      // Labels come in runs: one add a run (as the reader's countInto).
      const words = wordsOf(t);
      for (let yy = cy0; yy < cy1; yy++) {
        const end = yy * ts + cx1;
        for (let i = yy * ts + cx0; i < end;) {
          const j = runEnd(t, words, i, end);
          const v = t[i]!;
          if (counts[base + v] === 0) seen.push(v);
          counts[base + v]! += j - i;
          i = j;
        }
      }
    }
  }

  /** Pixels of value v in cell c's window: value 0 includes the window's pixels off the raster. */
  n(c: number, v: number): number {
    const k = this.counts[(c - this.c0) * 256 + v]!;
    return v === 0 ? k + (this.w[c]! * this.h - this.inside[c]!) : k;
  }

  /** The values present in cell c's window (unordered; value 0 maybe missing when only off the raster). */
  seen(c: number): readonly number[] {
    return this.seenOf[c - this.c0]!;
  }

  private clear(): void {
    for (let i = 0; i < this.c1 - this.c0; i++) {
      const seen = this.seenOf[i]!;
      for (const v of seen) this.counts[i * 256 + v] = 0;
      seen.length = 0;
    }
  }
}
