/**
 * Scanline rasterisation of label shapes into an 8-bit label raster (pure: no I/O).
 *
 * Planes: `l0` = level-0 slide pixels; `r` = label-raster pixels, r = l0 / downsample.
 * A raster pixel belongs to a shape when its centre (i + 0.5, j + 0.5) in plane `r` is inside
 * the shape by the even-odd rule. The rule is exact and needs no antialiasing, so label values
 * never blend.
 *
 * Rows must be requested in increasing order (band after band): each shape keeps an active-edge
 * list, so a row costs O(edges crossing it), not O(all edges).
 */
import type { LabelShape } from './shapes.js';

export interface ShapeScanner {
  value: number | null;
  /** First and last raster row (plane `r`) whose centre can be inside the shape. */
  rowMin: number;
  rowMax: number;
  /** Sorted x crossings (plane `r`) of row `j`'s centre line; rows must not go backwards. */
  crossings(j: number): Float64Array;
}

/** Prepares shapes for scanning; holes (value null) are moved after the painted shapes. */
export function prepareShapes(shapes: readonly LabelShape[], downsample: number): ShapeScanner[] {
  const painted = shapes.filter((s) => s.value !== null).map((s) => createScanner(s, downsample));
  const holes = shapes.filter((s) => s.value === null).map((s) => createScanner(s, downsample));
  return [...painted, ...holes].filter((s) => s.rowMax >= s.rowMin);
}

/**
 * Paints rows [rowStart, rowStart + rowCount) of a raster `width` pixels wide into `layer`
 * (row-major, row 0 of `layer` = raster row `rowStart`). Holes write 0. `dirty[tx]` is set to 1
 * for every column of `tileSize`-pixel tiles a painted span touches.
 */
export function rasterizeRows(
  layer: Uint8Array,
  width: number,
  rowStart: number,
  rowCount: number,
  scanners: readonly ShapeScanner[],
  dirty: Uint8Array,
  tileSize: number,
): void {
  for (const s of scanners) {
    const from = Math.max(rowStart, s.rowMin);
    const to = Math.min(rowStart + rowCount - 1, s.rowMax);
    const v = s.value ?? 0;
    for (let j = from; j <= to; j++) {
      const xs = s.crossings(j);
      const rowOff = (j - rowStart) * width;
      for (let k = 0; k + 1 < xs.length; k += 2) {
        // Pixel i is inside when xa <= i + 0.5 < xb.
        const i0 = Math.max(0, Math.ceil(xs[k]! - 0.5));
        const i1 = Math.min(width, Math.ceil(xs[k + 1]! - 0.5));
        if (i1 <= i0) continue;
        layer.fill(v, rowOff + i0, rowOff + i1);
        if (v !== 0) markDirty(dirty, i0, i1, tileSize);
      }
    }
  }
}

function markDirty(dirty: Uint8Array, i0: number, i1: number, tileSize: number): void {
  const t1 = Math.floor((i1 - 1) / tileSize);
  for (let t = Math.floor(i0 / tileSize); t <= t1; t++) dirty[t] = 1;
}

function createScanner(shape: LabelShape, downsample: number): ShapeScanner {
  const edges = collectEdges(shape, downsample);
  const n = edges.length / 4;
  // Edge order by top y, so the active list grows by walking a cursor.
  const order = Array.from({ length: n }, (_, e) => e).sort((a, b) => edges[a * 4 + 1]! - edges[b * 4 + 1]!);
  let yMin = Infinity;
  let yMax = -Infinity;
  for (let e = 0; e < n; e++) {
    yMin = Math.min(yMin, edges[e * 4 + 1]!);
    yMax = Math.max(yMax, edges[e * 4 + 3]!);
  }
  let cursor = 0;
  let active: number[] = [];
  let lastRow = -Infinity;
  const scratch = new Float64Array(n);
  return {
    value: shape.value,
    rowMin: Math.max(0, Math.ceil(yMin - 0.5)),
    rowMax: Math.ceil(yMax - 0.5) - 1,
    crossings(j: number): Float64Array {
      if (j < lastRow) throw new Error('rasterize: rows must be scanned in increasing order');
      lastRow = j;
      const yc = j + 0.5;
      while (cursor < n && edges[order[cursor]! * 4 + 1]! <= yc) active.push(order[cursor++]!);
      active = active.filter((e) => edges[e * 4 + 3]! > yc);
      let m = 0;
      for (const e of active) {
        const x0 = edges[e * 4]!;
        const y0 = edges[e * 4 + 1]!;
        const x1 = edges[e * 4 + 2]!;
        const y1 = edges[e * 4 + 3]!;
        scratch[m++] = x0 + ((yc - y0) * (x1 - x0)) / (y1 - y0);
      }
      return scratch.subarray(0, m).sort();
    },
  };
}

/** Non-horizontal edges as (x_top, y_top, x_bottom, y_bottom) in plane `r`, top y < bottom y. */
function collectEdges(shape: LabelShape, downsample: number): Float64Array {
  const out: number[] = [];
  for (const ring of shape.rings) {
    const pts = ring.length >> 1;
    for (let p = 0; p < pts; p++) {
      const q = (p + 1) % pts;
      const ax = ring[p * 2]! / downsample;
      const ay = ring[p * 2 + 1]! / downsample;
      const bx = ring[q * 2]! / downsample;
      const by = ring[q * 2 + 1]! / downsample;
      if (ay === by) continue; // horizontal edges never cross a pixel-centre line
      if (ay < by) out.push(ax, ay, bx, by);
      else out.push(bx, by, ax, ay);
    }
  }
  return Float64Array.from(out);
}
