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
  return [
    Math.min(...boxes.map((b) => b[0])),
    Math.min(...boxes.map((b) => b[1])),
    Math.max(...boxes.map((b) => b[2])),
    Math.max(...boxes.map((b) => b[3])),
  ];
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
