/**
 * Vector detail drawn over flat tissue colours (cheap for librsvg, unlike image patterns):
 * fat-cell membranes as a Voronoi network, collagen fibres as strokes running along connective
 * tissue. Pure geometry; only the look depends on it, never the labels.
 */
import { ringBounds, type Ring } from './geometry.js';
import type { Rng } from './random.js';

/** Fat cells are 50-100 um across: ~320 px at 0.24 um/px, whatever the demo's scale. */
const FAT_CELL = 320;

/** Convex Voronoi cells of a jittered grid covering the ring's box (clipped to the ring later). */
export function fatCells(ring: Ring, rng: Rng): Ring[] {
  const [x0, y0, x1, y1] = ringBounds(ring);
  const cols = Math.ceil((x1 - x0) / FAT_CELL) + 2;
  const rows = Math.ceil((y1 - y0) / FAT_CELL) + 2;
  const seeds: Array<[number, number]> = [];
  for (let j = 0; j < rows; j++) {
    for (let i = 0; i < cols; i++) {
      seeds.push([
        x0 + (i - 0.5 + rng.range(-0.35, 0.35)) * FAT_CELL,
        y0 + (j - 0.5 + rng.range(-0.35, 0.35)) * FAT_CELL,
      ]);
    }
  }
  const cells: Ring[] = [];
  for (let j = 1; j < rows - 1; j++) {
    for (let i = 1; i < cols - 1; i++) cells.push(voronoiCell(seeds, cols, rows, i, j));
  }
  return cells;
}

function voronoiCell(seeds: Array<[number, number]>, cols: number, rows: number, i: number, j: number): Ring {
  const [sx, sy] = seeds[j * cols + i]!;
  const h = FAT_CELL * 2;
  let poly: Array<[number, number]> = [
    [sx - h, sy - h],
    [sx + h, sy - h],
    [sx + h, sy + h],
    [sx - h, sy + h],
  ];
  for (let dj = -2; dj <= 2; dj++) {
    for (let di = -2; di <= 2; di++) {
      const ni = i + di;
      const nj = j + dj;
      if ((di === 0 && dj === 0) || ni < 0 || nj < 0 || ni >= cols || nj >= rows) continue;
      const [nx, ny] = seeds[nj * cols + ni]!;
      // Keep the half-plane closer to the seed than to the neighbour.
      poly = clipHalfPlane(poly, nx - sx, ny - sy, (nx * nx + ny * ny - sx * sx - sy * sy) / 2);
    }
  }
  return Float64Array.from(poly.flat().map((v) => Math.round(v * 10) / 10));
}

/** Sutherland-Hodgman: the part of a convex polygon where a*x + b*y <= c. */
function clipHalfPlane(poly: Array<[number, number]>, a: number, b: number, c: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let k = 0; k < poly.length; k++) {
    const p = poly[k]!;
    const q = poly[(k + 1) % poly.length]!;
    const fp = a * p[0] + b * p[1] - c;
    const fq = a * q[0] + b * q[1] - c;
    if (fp <= 0) out.push(p);
    if (fp * fq < 0) {
      const t = fp / (fp - fq);
      out.push([p[0] + (q[0] - p[0]) * t, p[1] + (q[1] - p[1]) * t]);
    }
  }
  return out;
}

/**
 * Collagen fibres: wavy copies of the shape's outline shrunk toward its centre. For the capsule
 * (`shallow`) they crowd near the outline, where its visible rim is; for a septum they fill it.
 */
export function fibreRings(ring: Ring, rng: Rng, shallow: boolean): Ring[] {
  const [x0, y0, x1, y1] = ringBounds(ring);
  const cx = (x0 + x1) / 2;
  const cy = (y0 + y1) / 2;
  const count = shallow ? 18 : 5;
  const out: Ring[] = [];
  for (let k = 0; k < count; k++) {
    const f = shallow ? 1 - 0.055 * ((k + rng.next()) / count) : 0.9 - 0.7 * ((k + rng.next()) / count);
    const waves = rng.int(20, 60);
    const phase = rng.range(0, 2 * Math.PI);
    const amp = shallow ? 0.003 : 0.04;
    const copy = new Float64Array(ring.length);
    const n = ring.length >> 1;
    for (let i = 0; i < n; i++) {
      const wobble = f * (1 + amp * Math.sin((waves * 2 * Math.PI * i) / n + phase));
      copy[2 * i] = Math.round((cx + (ring[2 * i]! - cx) * wobble) * 10) / 10;
      copy[2 * i + 1] = Math.round((cy + (ring[2 * i + 1]! - cy) * wobble) * 10) / 10;
    }
    out.push(copy);
  }
  return out;
}
