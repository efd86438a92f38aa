/**
 * The vector form every annotation reader produces (ASAP XML, GeoJSON), before rasterisation.
 * Coordinates are level-0 slide pixels (plane `l0`), x right, y down.
 */

/** One closed ring: interleaved x, y in level-0 pixels; the closing edge is implicit. */
export type Ring = Float64Array;

export interface LabelShape {
  /**
   * Taxonomy value painted inside the shape, or `null` for a hole: a hole erases what the same
   * label file painted (Camelyon16's `_2` / `Exclusion` groups cut holes out of tumour), letting
   * what earlier label sources painted show through.
   */
  value: number | null;
  /** All rings of the shape, filled with the even-odd rule (outer ring plus its holes). */
  rings: Ring[];
  /** The annotation's name in its file, for error messages. */
  name: string;
}

/**
 * Maps a group / classification name found in a file to a taxonomy value, `null` for a hole,
 * or `undefined` when the name is not known (the reader then rejects the file, naming it).
 */
export type ClassResolver = (name: string) => number | null | undefined;

/** Bounding box [minX, minY, maxX, maxY] of interleaved x, y coordinates. */
export function ringBounds(ring: ArrayLike<number>): [number, number, number, number] {
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  for (let i = 0; i + 1 < ring.length; i += 2) {
    const x = ring[i]!;
    const y = ring[i + 1]!;
    if (x < minX) minX = x;
    if (x > maxX) maxX = x;
    if (y < minY) minY = y;
    if (y > maxY) maxY = y;
  }
  return [minX, minY, maxX, maxY];
}

/** Bounding box of a shape's rings in level-0 pixels: [minX, minY, maxX, maxY]. */
export function shapeBounds(shape: LabelShape): [number, number, number, number] {
  const boxes = shape.rings.map(ringBounds);
  return [Math.min(...boxes.map((b) => b[0])), Math.min(...boxes.map((b) => b[1])), Math.max(...boxes.map((b) => b[2])), Math.max(...boxes.map((b) => b[3]))];
}

/** Edges of a ring crossed by the ray from (px, py) towards +x (pnpoly: odd = inside). */
export function ringCrossings(ring: ArrayLike<number>, px: number, py: number): number {
  let count = 0;
  const n = ring.length >> 1;
  for (let i = 0, j = n - 1; i < n; j = i++) {
    const xi = ring[2 * i]!;
    const yi = ring[2 * i + 1]!;
    const xj = ring[2 * j]!;
    const yj = ring[2 * j + 1]!;
    if (yi > py !== yj > py && px < ((xj - xi) * (py - yi)) / (yj - yi) + xi) count++;
  }
  return count;
}

/** Even-odd point-in-polygon over all rings of a shape. */
export function pointInRings(x: number, y: number, rings: readonly ArrayLike<number>[]): boolean {
  return rings.reduce((n, ring) => n + ringCrossings(ring, x, y), 0) % 2 === 1;
}

/**
 * Even-odd point-in-polygon for many queries against one polygon: edges are bucketed into
 * horizontal bands once, so a query walks only the edges of its band, not all of them (a region
 * polygon may have 100,000 vertices and be tested for every candidate patch).
 */
export function createPolygonTester(rings: readonly ArrayLike<number>[]): (x: number, y: number) => boolean {
  const edges: number[] = [];
  for (const ring of rings) {
    const n = ring.length >> 1;
    for (let i = 0, j = n - 1; i < n; j = i++) edges.push(ring[2 * i]!, ring[2 * i + 1]!, ring[2 * j]!, ring[2 * j + 1]!);
  }
  const count = edges.length / 4;
  let y0 = Infinity;
  let y1 = -Infinity;
  for (let e = 0; e < count; e++) {
    y0 = Math.min(y0, edges[4 * e + 1]!, edges[4 * e + 3]!);
    y1 = Math.max(y1, edges[4 * e + 1]!, edges[4 * e + 3]!);
  }
  const bands = Math.max(1, Math.min(4096, Math.ceil(count / 4)));
  const height = (y1 - y0) / bands || 1;
  const byBand: number[][] = Array.from({ length: bands }, () => []);
  for (let e = 0; e < count; e++) {
    const lo = Math.min(edges[4 * e + 1]!, edges[4 * e + 3]!);
    const hi = Math.max(edges[4 * e + 1]!, edges[4 * e + 3]!);
    const b0 = Math.max(0, Math.floor((lo - y0) / height));
    const b1 = Math.min(bands - 1, Math.floor((hi - y0) / height));
    for (let b = b0; b <= b1; b++) byBand[b]!.push(e);
  }
  return (x, y) => {
    if (y < y0 || y > y1) return false;
    const band = byBand[Math.min(bands - 1, Math.floor((y - y0) / height))]!;
    let inside = false;
    for (const e of band) {
      const xi = edges[4 * e]!;
      const yi = edges[4 * e + 1]!;
      const xj = edges[4 * e + 2]!;
      const yj = edges[4 * e + 3]!;
      if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
    }
    return inside;
  };
}

/** True when the ring holds at least 3 different points; stops scanning once it knows. */
export function hasThreeDistinctPoints(ring: Float64Array): boolean {
  const n = ring.length / 2;
  if (n < 3) return false;
  const x0 = ring[0]!;
  const y0 = ring[1]!;
  let second = -1;
  for (let i = 1; i < n; i++) {
    const x = ring[2 * i]!;
    const y = ring[2 * i + 1]!;
    if (x === x0 && y === y0) continue;
    if (second < 0) second = i;
    else if (x !== ring[2 * second] || y !== ring[2 * second + 1]) return true;
  }
  return false;
}
