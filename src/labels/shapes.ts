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

/** Bounding box of a shape's rings in level-0 pixels: [minX, minY, maxX, maxY]. */
export function shapeBounds(shape: LabelShape): [number, number, number, number] {
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  for (const ring of shape.rings) {
    for (let i = 0; i + 1 < ring.length; i += 2) {
      const x = ring[i]!;
      const y = ring[i + 1]!;
      if (x < minX) minX = x;
      if (x > maxX) maxX = x;
      if (y < minY) minY = y;
      if (y > maxY) maxY = y;
    }
  }
  return [minX, minY, maxX, maxY];
}
