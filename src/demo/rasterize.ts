/**
 * Exact rasterisation of scene shapes into a label mask, and point queries on the scene.
 *
 * A mask pixel (i, j) at downsample d takes the class of the last shape whose rings contain its
 * centre ((i + 0.5) d, (j + 0.5) d) by the even-odd rule. An edge counts for a centre line y when
 * y_top <= y < y_bottom, and a crossing x counts for a centre when x <= centre. The label readers'
 * rasteriser (src/labels/rasterize.ts) uses the same rule and arithmetic, and d is a power of two,
 * so ingesting the vector labels at the mask's downsample reproduces these masks bit for bit.
 * (No antialiasing anywhere, so class values never blend.)
 */
import type { Ring } from './geometry.js';

export interface RasterShape {
  value: number;
  rings: readonly Ring[];
}

/** Paints shapes in order into a width x height mask of downsample `d` (later shapes win). */
export function rasterizeShapes(shapes: readonly RasterShape[], width: number, height: number, d: number): Uint8Array {
  const mask = new Uint8Array(width * height);
  for (const shape of shapes) paintShape(mask, width, height, d, shape);
  return mask;
}

function paintShape(mask: Uint8Array, width: number, height: number, d: number, shape: RasterShape): void {
  const rows = rowCrossings(shape.rings, height, d);
  rows.forEach((xs, j) => {
    xs.sort((a, b) => a - b);
    const off = j * width;
    for (let k = 0; k + 1 < xs.length; k += 2) {
      // Pixel i is inside when xs[k] <= i + 0.5 < xs[k + 1] (plane of mask pixels).
      const i0 = Math.max(0, Math.ceil(xs[k]! - 0.5));
      const i1 = Math.min(width, Math.ceil(xs[k + 1]! - 0.5));
      if (i1 > i0) mask.fill(shape.value, off + i0, off + i1);
    }
  });
}

/** For every mask row, the x crossings (mask-pixel plane) of its centre line with the rings. */
function rowCrossings(rings: readonly Ring[], height: number, d: number): Map<number, number[]> {
  const rows = new Map<number, number[]>();
  for (const ring of rings) {
    const n = ring.length >> 1;
    for (let p = 0; p < n; p++) {
      const q = (p + 1) % n;
      let x0 = ring[2 * p]! / d;
      let y0 = ring[2 * p + 1]! / d;
      let x1 = ring[2 * q]! / d;
      let y1 = ring[2 * q + 1]! / d;
      if (y0 === y1) continue;
      if (y0 > y1) [x0, y0, x1, y1] = [x1, y1, x0, y0];
      const jFrom = Math.max(0, Math.ceil(y0 - 0.5));
      const jTo = Math.min(height - 1, Math.ceil(y1 - 0.5) - 1);
      for (let j = jFrom; j <= jTo; j++) {
        const yc = j + 0.5;
        const x = x0 + ((yc - y0) * (x1 - x0)) / (y1 - y0);
        const list = rows.get(j);
        if (list) list.push(x);
        else rows.set(j, [x]);
      }
    }
  }
  return rows;
}

/** Even-odd containment of a level-0 point, with exactly the rasteriser's edge rule. */
export function containsPoint(rings: readonly Ring[], px: number, py: number): boolean {
  let inside = false;
  for (const ring of rings) {
    const n = ring.length >> 1;
    for (let p = 0; p < n; p++) {
      const q = (p + 1) % n;
      let x0 = ring[2 * p]!;
      let y0 = ring[2 * p + 1]!;
      let x1 = ring[2 * q]!;
      let y1 = ring[2 * q + 1]!;
      if (y0 === y1) continue;
      if (y0 > y1) [x0, y0, x1, y1] = [x1, y1, x0, y0];
      if (y0 <= py && py < y1 && x0 + ((py - y0) * (x1 - x0)) / (y1 - y0) <= px) inside = !inside;
    }
  }
  return inside;
}

/** Class value at a level-0 point: the last shape containing it, 0 (glass) when none does. */
export function classAtPoint(shapes: readonly RasterShape[], x: number, y: number): number {
  for (let k = shapes.length - 1; k >= 0; k--) {
    const s = shapes[k]!;
    if (containsPoint(s.rings, x, y)) return s.value;
  }
  return 0;
}
