/**
 * Which label-raster pixels a mask tile shows (pure). A tile pixel takes the value of the raster
 * pixel under its centre, read from the coarsest raster level that is still at least as fine as
 * the tile (mode-reduced levels for overviews, never a coarser level when a finer one exists).
 * Values are copied, never blended: every raw mask pixel is a taxonomy value.
 */
import type { RasterGeometry } from '../labels/raster.js';

export interface LabelResampling {
  level: number;
  /** Raster-level rectangle to read. */
  x: number;
  y: number;
  width: number;
  height: number;
  /** For each tile column / row, the index into that rectangle. */
  cols: Int32Array;
  rows: Int32Array;
}

/** Coarsest raster level whose pixels (D * 2^k level-0 pixels) are not larger than `l0PerPixel`. */
export function rasterLevelFor(g: RasterGeometry, l0PerPixel: number): number {
  let k = 0;
  while (k + 1 < g.levels && g.downsample * 2 ** (k + 1) <= l0PerPixel * (1 + 1e-9)) k++;
  return k;
}

/**
 * Nearest-neighbour resampling for an output grid of `outW` x `outH` pixels whose top-left pixel starts at level-0
 * (l0X, l0Y) and whose pixels are `l0PerPixel` level-0 pixels wide (and `l0PerPixelY` high, when
 * the output is stretched: IIIF's w,h sizes).
 */
export function labelResampling(
  g: RasterGeometry,
  l0X: number,
  l0Y: number,
  l0PerPixel: number,
  outW: number,
  outH: number,
  l0PerPixelY = l0PerPixel,
): LabelResampling {
  const level = rasterLevelFor(g, Math.min(l0PerPixel, l0PerPixelY));
  const rPerL0 = 1 / (g.downsample * 2 ** level);
  const axis = (l0: number, n: number, step: number) => {
    const idx = new Int32Array(n);
    for (let i = 0; i < n; i++) idx[i] = Math.floor((l0 + (i + 0.5) * step) * rPerL0);
    const start = idx[0] ?? 0;
    for (let i = 0; i < n; i++) idx[i] = idx[i]! - start;
    return { start, idx, span: n > 0 ? idx[n - 1]! + 1 : 0 };
  };
  const cx = axis(l0X, outW, l0PerPixel);
  const cy = axis(l0Y, outH, l0PerPixelY);
  return { level, x: cx.start, y: cy.start, width: cx.span, height: cy.span, cols: cx.idx, rows: cy.idx };
}

/**
 * Applies a resampling to the raster region it asked for. Label rows repeat (an output finer than
 * the raster repeats each raster row; inside or outside a lesion, consecutive rows hold the same
 * values): an output row whose source row equals the previous one's is copied, not sampled again
 * (3-6x faster on label masks; the same values).
 */
export function resampleLabels(region: Uint8Array, s: LabelResampling, into?: Uint8Array): Uint8Array {
  const { cols, rows, width } = s;
  const outW = cols.length;
  // Every output value is written below: a reused buffer needs no clearing.
  const out = into ? into.subarray(0, outW * rows.length) : new Uint8Array(outW * rows.length);
  if (out.length !== outW * rows.length) throw new RangeError('resampleLabels: the output buffer is too small');
  const bytes = Buffer.from(region.buffer, region.byteOffset, region.length);
  const runs = columnRuns(cols);
  let prev = -1;
  for (let j = 0; j < rows.length; j++) {
    const src = rows[j]! * width;
    const dst = j * outW;
    if (j > 0 && (src === prev || bytes.compare(bytes, prev, prev + width, src, src + width) === 0))
      out.copyWithin(dst, dst - outW, dst);
    else if (runs) copyRuns(region, src, out, dst, runs);
    else for (let i = 0; i < outW; i++) out[dst + i] = region[src + cols[i]!]!;
    prev = src;
  }
  return out;
}

/**
 * Where an output row is a few stretches of consecutive source columns (an output about as fine as
 * the raster: a coarse scale of a batch, whose rows rarely repeat), (source, output, length) of
 * each stretch; null when there are many (an output finer than the raster repeats each column).
 */
function columnRuns(cols: Int32Array): Int32Array | null {
  let count = cols.length > 0 ? 1 : 0;
  for (let i = 1; i < cols.length; i++) if (cols[i] !== cols[i - 1]! + 1) count++;
  if (count * 8 > cols.length) return null;
  const runs = new Int32Array(3 * count);
  for (let i = 0, k = 0; i < cols.length; k += 3) {
    let j = i + 1;
    while (j < cols.length && cols[j] === cols[j - 1]! + 1) j++;
    runs[k] = cols[i]!;
    runs[k + 1] = i;
    runs[k + 2] = j - i;
    i = j;
  }
  return runs;
}

/** One output row from its source row, stretch by stretch: plain copies, no index lookup a pixel (~25% faster). */
function copyRuns(region: Uint8Array, src: number, out: Uint8Array, dst: number, runs: Int32Array): void {
  for (let k = 0; k < runs.length; k += 3) {
    const from = src + runs[k]!;
    const to = dst + runs[k + 1]!;
    const n = runs[k + 2]!;
    for (let i = 0; i < n; i++) out[to + i] = region[from + i]!;
  }
}

/**
 * Two reusable buffers for a run of masks rendered one after the other (a batch): the label region
 * read and the resampled values. What `take` returns is valid until the next take of that slot.
 * Buffers larger than `keepBytes` are not kept.
 */
export interface LabelScratch {
  take(slot: 0 | 1, length: number): Uint8Array;
}

export function createLabelScratch(keepBytes = 1 << 20): LabelScratch {
  const kept: [Uint8Array, Uint8Array] = [new Uint8Array(0), new Uint8Array(0)];
  return {
    take(slot, length) {
      if (length > keepBytes) return new Uint8Array(length);
      if (kept[slot].length < length) kept[slot] = new Uint8Array(Math.max(length, 2 * kept[slot].length));
      return kept[slot].subarray(0, length);
    },
  };
}
