/**
 * Brute-force references for the label raster: a point-in-polygon test per pixel centre, nearest
 * sampling of masks, and a 2x2 mode reduction written the slow, obvious way. They share no code
 * with src/labels, so agreement between the two is evidence, not tautology.
 */
import type { LabelShape } from '../../src/labels/shapes.js';
import { levelSize, type LabelTile, type RasterGeometry } from '../../src/labels/raster.js';

export type RefSource =
  | { kind: 'vector'; shapes: LabelShape[] }
  | { kind: 'mask'; values: Uint8Array; width: number; height: number; downsample: number };

export interface Image {
  width: number;
  height: number;
  data: Uint8Array;
}

/** Every edge of the rings, closing edges included, as [ax, ay, bx, by] quadruples. */
export function edgesOf(rings: readonly Float64Array[]): number[] {
  const out: number[] = [];
  for (const ring of rings) {
    const n = ring.length >> 1;
    for (let p = 0; p < n; p++) {
      const q = (p + 1) % n;
      out.push(ring[2 * p]!, ring[2 * p + 1]!, ring[2 * q]!, ring[2 * q + 1]!);
    }
  }
  return out;
}

/**
 * Even-odd rule at (px, py), half-open: an edge counts when min(y) <= py < max(y) and it crosses
 * at or left of px. Cross products instead of a division: exact for dyadic coordinates.
 */
export function insideEvenOdd(edges: readonly number[], px: number, py: number): boolean {
  let inside = false;
  for (let e = 0; e < edges.length; e += 4) {
    const ay = edges[e + 1]!;
    const by = edges[e + 3]!;
    if (ay <= py === by <= py) continue;
    const [tx, ty, bx, bY] = ay < by ? [edges[e]!, ay, edges[e + 2]!, by] : [edges[e + 2]!, by, edges[e]!, ay];
    if ((tx - px) * (bY - ty) + (py - ty) * (bx - tx) <= 0) inside = !inside;
  }
  return inside;
}

/** Calls `visit(i, j)` for every raster pixel whose centre, in level-0 pixels, is inside the shape. */
export function forEachInside(
  shape: LabelShape,
  width: number,
  height: number,
  d: number,
  visit: (i: number, j: number) => void,
): void {
  const all = edgesOf(shape.rings);
  for (let j = 0; j < height; j++) {
    const py = (j + 0.5) * d;
    // Only edges spanning this row can change the parity: a per-row filter keeps it fast.
    const row: number[] = [];
    for (let e = 0; e < all.length; e += 4)
      if (all[e + 1]! <= py !== all[e + 3]! <= py) row.push(all[e]!, all[e + 1]!, all[e + 2]!, all[e + 3]!);
    if (row.length === 0) continue;
    for (let i = 0; i < width; i++) if (insideEvenOdd(row, (i + 0.5) * d, py)) visit(i, j);
  }
}

/** Composes sources in painting order exactly as documented: later non-zero wins, holes erase their own source. */
export function bruteCompose(sources: readonly RefSource[], width: number, height: number, d: number): Uint8Array {
  const out = new Uint8Array(width * height);
  for (const s of sources) {
    const layer = new Uint8Array(width * height);
    if (s.kind === 'vector') {
      const ordered = [...s.shapes.filter((x) => x.value !== null), ...s.shapes.filter((x) => x.value === null)];
      for (const shape of ordered)
        forEachInside(shape, width, height, d, (i, j) => (layer[j * width + i] = shape.value ?? 0));
    } else {
      for (let j = 0; j < height; j++) {
        const my = Math.floor(((j + 0.5) * d) / s.downsample);
        for (let i = 0; i < width; i++) {
          const mx = Math.floor(((i + 0.5) * d) / s.downsample);
          if (my < s.height && mx < s.width) layer[j * width + i] = s.values[my * s.width + mx]!;
        }
      }
    }
    for (let k = 0; k < layer.length; k++) if (layer[k] !== 0) out[k] = layer[k]!;
  }
  return out;
}

/** Mode of the real pixels of each 2x2 block; ties go to a labelled value, then to reading order. */
export function bruteReduce(img: Image): Image {
  const width = Math.ceil(img.width / 2);
  const height = Math.ceil(img.height / 2);
  const data = new Uint8Array(width * height);
  for (let j = 0; j < height; j++) {
    for (let i = 0; i < width; i++) {
      const votes: number[] = [];
      for (const [dx, dy] of [
        [0, 0],
        [1, 0],
        [0, 1],
        [1, 1],
      ] as const) {
        const x = 2 * i + dx;
        const y = 2 * j + dy;
        if (x < img.width && y < img.height) votes.push(img.data[y * img.width + x]!);
      }
      const count = (v: number) => votes.filter((w) => w === v).length;
      let best = votes[0]!;
      for (const v of votes) {
        if (count(v) > count(best) || (count(v) === count(best) && best === 0 && v !== 0)) best = v;
      }
      data[j * width + i] = best;
    }
  }
  return { width, height, data };
}

export function bruteLevels(base: Image, levels: number): Image[] {
  const out = [base];
  while (out.length < levels) out.push(bruteReduce(out[out.length - 1]!));
  return out;
}

/** Puts emitted tiles back together into one image per level (absent tiles are all 0). */
export function assembleLevels(tiles: readonly LabelTile[], g: RasterGeometry): Image[] {
  const images = Array.from({ length: g.levels }, (_, level) => {
    const { width, height } = levelSize(g, level);
    return { width, height, data: new Uint8Array(width * height) };
  });
  const ts = g.tileSize;
  for (const t of tiles) {
    const img = images[t.level]!;
    for (let r = 0; r < ts; r++) {
      for (let c = 0; c < ts; c++) {
        const x = t.tx * ts + c;
        const y = t.ty * ts + r;
        const v = t.uniform ?? t.data![r * ts + c]!;
        if (x < img.width && y < img.height) img.data[y * img.width + x] = v;
        else if (t.uniform === null && v !== 0)
          throw new Error(`tile ${t.level}/${t.tx},${t.ty} has ${v} past the raster edge`);
      }
    }
  }
  return images;
}

/** Rows of an image as digit strings, for readable exact tables (values 0..9). */
export function rows(data: Uint8Array, width: number): string[] {
  const out: string[] = [];
  for (let o = 0; o < data.length; o += width) out.push(Array.from(data.subarray(o, o + width)).join(''));
  return out;
}

/** Pixels per value. */
export function histogram(data: Uint8Array): Map<number, number> {
  const h = new Map<number, number>();
  for (const v of data) h.set(v, (h.get(v) ?? 0) + 1);
  return h;
}
