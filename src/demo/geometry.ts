/**
 * Ring geometry for the demo scene. A ring is a Float64Array of interleaved x, y in level-0
 * pixels (the same convention as src/labels/shapes.ts); the closing edge is implicit.
 */
import { ringBounds as labelRingBounds, ringCrossings } from '../labels/shapes.js';
import type { Rng } from './random.js';

export type Ring = Float64Array;
export type Bounds = [minX: number, minY: number, maxX: number, maxY: number];

/**
 * Coordinates are kept on a 0.01 px grid: the decimal text written to XML / GeoJSON then parses
 * back to exactly the same double, so readers see the scene's own numbers.
 */
export function roundCoord(v: number): number {
  return Math.round(v * 100) / 100 + 0; // + 0 turns -0 into 0
}

export function ringBounds(ring: Ring): Bounds {
  return labelRingBounds(ring);
}

export function boundsOverlap(a: Bounds, b: Bounds): boolean {
  return a[0] <= b[2] && b[0] <= a[2] && a[1] <= b[3] && b[1] <= a[3];
}

/** Number of ring edges crossed by a ray from the point to +x (pnpoly; odd = inside). */
export const crossings = (ring: Ring, px: number, py: number): number => ringCrossings(ring, px, py);

/** Signed area (positive = counter-clockwise in x right / y up axes). */
export function signedArea(ring: Ring): number {
  let a = 0;
  const n = ring.length >> 1;
  for (let i = 0, j = n - 1; i < n; j = i++) {
    a += (ring[2 * j]! - ring[2 * i]!) * (ring[2 * j + 1]! + ring[2 * i + 1]!);
  }
  return a / 2;
}

function segmentsCross(
  ax: number,
  ay: number,
  bx: number,
  by: number,
  cx: number,
  cy: number,
  dx: number,
  dy: number,
): boolean {
  const d1 = (dx - cx) * (ay - cy) - (dy - cy) * (ax - cx);
  const d2 = (dx - cx) * (by - cy) - (dy - cy) * (bx - cx);
  const d3 = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax);
  const d4 = (bx - ax) * (dy - ay) - (by - ay) * (dx - ax);
  return d1 * d2 <= 0 && d3 * d4 <= 0 && !(d1 === 0 && d2 === 0);
}

/** Does any edge of `a` touch or cross an edge of `b`? */
export function ringsCross(a: Ring, b: Ring): boolean {
  // Walk the longer ring, skipping its edges outside the shorter ring's box.
  return a.length >= b.length ? edgesCross(a, b) : edgesCross(b, a);
}

function edgesCross(a: Ring, b: Ring): boolean {
  const bb = ringBounds(b);
  const na = a.length >> 1;
  const nb = b.length >> 1;
  for (let i = 0, j = na - 1; i < na; j = i++) {
    const ax = a[2 * j]!,
      ay = a[2 * j + 1]!,
      bx = a[2 * i]!,
      by = a[2 * i + 1]!;
    if (Math.max(ax, bx) < bb[0] || Math.min(ax, bx) > bb[2]) continue;
    if (Math.max(ay, by) < bb[1] || Math.min(ay, by) > bb[3]) continue;
    for (let k = 0, l = nb - 1; k < nb; l = k++) {
      if (segmentsCross(ax, ay, bx, by, b[2 * l]!, b[2 * l + 1]!, b[2 * k]!, b[2 * k + 1]!)) return true;
    }
  }
  return false;
}

/** Is ring `inner` inside ring `outer`? With no edges crossing, one vertex inside decides it. */
export function ringInside(inner: Ring, outer: Ring): boolean {
  return (crossings(outer, inner[0]!, inner[1]!) & 1) === 1 && !ringsCross(inner, outer);
}

/** Do two rings overlap at all (a vertex of one inside the other, or crossing edges)? */
export function ringsOverlap(a: Ring, b: Ring): boolean {
  if (!boundsOverlap(ringBounds(a), ringBounds(b))) return false;
  if ((crossings(b, a[0]!, a[1]!) & 1) === 1 || (crossings(a, b[0]!, b[1]!) & 1) === 1) return true;
  return ringsCross(a, b);
}

/** Scales then translates a ring, snapping to the coordinate grid and dropping repeated points. */
export function transformRing(ring: Ring, scale: number, dx: number, dy: number): Ring {
  const out: number[] = [];
  for (let i = 0; i + 1 < ring.length; i += 2) {
    const x = roundCoord(ring[i]! * scale + dx);
    const y = roundCoord(ring[i + 1]! * scale + dy);
    const n = out.length;
    if (n >= 2 && out[n - 2] === x && out[n - 1] === y) continue;
    out.push(x, y);
  }
  if (out.length >= 4 && out[0] === out[out.length - 2] && out[1] === out[out.length - 1]) out.length -= 2;
  return Float64Array.from(out);
}

/** A smooth random closed outline: radius(θ) = 1 + Σ a_k cos(kθ + φ_k); lets shapes be offset. */
export interface Outline {
  amps: number[];
  phases: number[];
}

export function randomOutline(rng: Rng, harmonics: number, roughness: number): Outline {
  const amps: number[] = [];
  const phases: number[] = [];
  for (let k = 1; k <= harmonics; k++) {
    amps.push((rng.range(0.3, 1) * roughness) / k);
    phases.push(rng.range(0, 2 * Math.PI));
  }
  return { amps, phases };
}

export function outlineRadius(outline: Outline, theta: number): number {
  let r = 1;
  outline.amps.forEach((a, k) => {
    r += a * Math.cos((k + 1) * theta + outline.phases[k]!);
  });
  return r;
}

/** Polygon of an outline around (cx, cy) with radii rx, ry, grown outwards by `grow` pixels. */
export function outlineRing(
  outline: Outline,
  cx: number,
  cy: number,
  rx: number,
  ry: number,
  vertices: number,
  grow = 0,
): Ring {
  const out = new Float64Array(vertices * 2);
  for (let i = 0; i < vertices; i++) {
    const t = (2 * Math.PI * i) / vertices;
    const r = outlineRadius(outline, t);
    out[2 * i] = roundCoord(cx + Math.cos(t) * (rx * r + grow));
    out[2 * i + 1] = roundCoord(cy + Math.sin(t) * (ry * r + grow));
  }
  return out;
}

/** A random blob: the usual shape of tissue pieces, ink spots and debris. */
export function blobRing(
  rng: Rng,
  cx: number,
  cy: number,
  rx: number,
  ry: number,
  roughness = 0.12,
  vertices = 96,
): Ring {
  return outlineRing(randomOutline(rng, 6, roughness), cx, cy, rx, ry, vertices);
}

/** A band of width `width` along a polyline (a fold, a connective-tissue septum). */
export function bandRing(points: Array<[number, number]>, width: number, taper = false): Ring {
  const left: number[] = [];
  const right: number[] = [];
  points.forEach(([x, y], i) => {
    const [px, py] = points[Math.max(0, i - 1)]!;
    const [nx, ny] = points[Math.min(points.length - 1, i + 1)]!;
    const len = Math.hypot(nx - px, ny - py) || 1;
    const t = i / (points.length - 1);
    const half = (width / 2) * (taper ? 0.35 + 0.65 * Math.sin(Math.PI * t) : 1);
    const ox = (-(ny - py) / len) * half;
    const oy = ((nx - px) / len) * half;
    left.push(roundCoord(x + ox), roundCoord(y + oy));
    right.unshift(roundCoord(x - ox), roundCoord(y - oy));
  });
  return Float64Array.from([...left, ...right]);
}

/**
 * Douglas-Peucker simplification of a closed ring to within `tolerance` pixels, for drawing
 * only (labels keep every vertex): real outlines carry a vertex every few pixels, and librsvg
 * walks every vertex of a path for each 2000 px tile it renders.
 */
export function simplifyRing(ring: Ring, tolerance: number): Ring {
  const n = ring.length >> 1;
  if (n <= 8) return ring;
  const keep = new Uint8Array(n);
  keep[0] = 1;
  keep[n - 1] = 1;
  const far = farthestFrom(ring, 0, 0, n);
  keep[far] = 1;
  const stack: Array<[number, number]> = [
    [0, far],
    [far, n - 1],
  ];
  const t2 = tolerance * tolerance;
  while (stack.length > 0) {
    const [a, b] = stack.pop()!;
    if (b - a < 2) continue;
    let best = -1;
    let bestD = t2;
    for (let i = a + 1; i < b; i++) {
      const d = segmentDistance2(ring, i, a, b);
      if (d > bestD) [best, bestD] = [i, d];
    }
    if (best < 0) continue;
    keep[best] = 1;
    stack.push([a, best], [best, b]);
  }
  const out: number[] = [];
  for (let i = 0; i < n; i++) if (keep[i]) out.push(ring[2 * i]!, ring[2 * i + 1]!);
  return Float64Array.from(out);
}

function farthestFrom(ring: Ring, k: number, from: number, to: number): number {
  let best = from;
  let bestD = -1;
  for (let i = from; i < to; i++) {
    const d = (ring[2 * i]! - ring[2 * k]!) ** 2 + (ring[2 * i + 1]! - ring[2 * k + 1]!) ** 2;
    if (d > bestD) [best, bestD] = [i, d];
  }
  return best;
}

/** Squared distance from vertex i to the segment between vertices a and b. */
function segmentDistance2(ring: Ring, i: number, a: number, b: number): number {
  const px = ring[2 * i]!,
    py = ring[2 * i + 1]!;
  const ax = ring[2 * a]!,
    ay = ring[2 * a + 1]!;
  const dx = ring[2 * b]! - ax,
    dy = ring[2 * b + 1]! - ay;
  const len2 = dx * dx + dy * dy;
  const t = len2 === 0 ? 0 : Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / len2));
  return (px - ax - t * dx) ** 2 + (py - ay - t * dy) ** 2;
}
