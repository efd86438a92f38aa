/**
 * URL lists for the load runs (deterministic by seed): random distinct tiles handed out in
 * disjoint chunks (so no run sees a tile an earlier run of the same server rendered), small
 * repeated sets for warm caches, and the patch patterns (real centres, uniform).
 */
import { loadCamelyonJson } from '../test/support/camelyon-json.js';
import type { DzGeometry } from '../src/tiles/deepzoom.js';
import { mapCentre, type PatchCentre } from './datasets.js';
import { mulberry32 } from '../src/prng.js';

export interface TileAddr {
  level: number;
  col: number;
  row: number;
}

/** The project's seeded PRNG (src/prng.ts). */
export const rng = mulberry32;

export function shuffle<T>(xs: T[], rand: () => number): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
}

/** Every tile of a DeepZoom level, or those meeting a level-0 box, in random order. */
export function levelTiles(
  g: DzGeometry,
  level: number,
  rand: () => number,
  box?: [number, number, number, number],
): TileAddr[] {
  const l = g.levels[level]!;
  const l0PerZ = 2 ** (g.levels.length - 1 - level);
  const span = g.tileSize * l0PerZ;
  const [c0, r0, c1, r1] = box
    ? [
        Math.floor(box[0] / span),
        Math.floor(box[1] / span),
        Math.min(l.cols - 1, Math.floor(box[2] / span)),
        Math.min(l.rows - 1, Math.floor(box[3] / span)),
      ]
    : [0, 0, l.cols - 1, l.rows - 1];
  const out: TileAddr[] = [];
  for (let row = r0; row <= r1; row++) for (let col = c0; col <= c1; col++) out.push({ level, col, row });
  return shuffle(out, rand);
}

/** Hands out consecutive, disjoint chunks of a pool. */
export class Pool<T> {
  private at = 0;
  constructor(private readonly items: T[]) {}
  take(n: number): T[] {
    const out = this.items.slice(this.at, this.at + n);
    this.at += out.length;
    return out;
  }
  rest(): T[] {
    return this.take(this.items.length);
  }
  get left(): number {
    return this.items.length - this.at;
  }
}

/** Level-0 bounding box of the Tumor_039 lesions: where a viewer of the overlay looks. */
export function lesionBox(): [number, number, number, number] {
  const j = loadCamelyonJson('Tumor_039');
  const xs = j.positive.flatMap((p) => p.vertices.map((v) => v[0]));
  const ys = j.positive.flatMap((p) => p.vertices.map((v) => v[1]));
  return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
}

/**
 * Mask tiles: every tile of the 4 finest DeepZoom levels in random order, with the ones over the
 * lesions spread evenly through the list (so every chunk of it sees the same share of them).
 */
export function maskTilePool(g: DzGeometry, rand: () => number): TileAddr[] {
  const max = g.levels.length - 1;
  const box = lesionBox();
  const key = (t: TileAddr) => `${t.level}/${t.col}/${t.row}`;
  const lesion: TileAddr[] = [];
  const other: TileAddr[] = [];
  for (let level = max; level > max - 4; level--) {
    const inBox = new Set(levelTiles(g, level, rand, box).map(key));
    for (const t of levelTiles(g, level, rand)) (inBox.has(key(t)) ? lesion : other).push(t);
  }
  shuffle(lesion, rand);
  shuffle(other, rand);
  const at = (xs: TileAddr[]) => xs.map((t, i) => ({ t, pos: (i + 0.5) / xs.length }));
  return [...at(lesion), ...at(other)].sort((a, b) => a.pos - b.pos).map((x) => x.t);
}

/** Whether a tile meets a level-0 box. */
export function tileMeets(g: DzGeometry, t: TileAddr, box: [number, number, number, number]): boolean {
  const span = g.tileSize * 2 ** (g.levels.length - 1 - t.level);
  return t.col * span <= box[2] && (t.col + 1) * span > box[0] && t.row * span <= box[3] && (t.row + 1) * span > box[1];
}

export const PATCH = 256;

export function regionPath(id: string, x: number, y: number): string {
  return `/slides/${id}/region?x=${x}&y=${y}&width=${PATCH}&height=${PATCH}&level=0&format=jpeg`;
}

/** The real centres, mapped onto the bench slides (see mapCentre). */
export function realisticPatches(
  centres: PatchCentre[],
  width: number,
  height: number,
): Array<{ id: string; x: number; y: number }> {
  return centres.map((c) => mapCentre(c, PATCH, width, height));
}

/** Uniformly random top-lefts over the same slides. */
export function uniformPatches(
  ids: string[],
  n: number,
  width: number,
  height: number,
  rand: () => number,
): Array<{ id: string; x: number; y: number }> {
  return Array.from({ length: n }, () => ({
    id: ids[Math.floor(rand() * ids.length)]!,
    x: Math.floor(rand() * (width - PATCH + 1)),
    y: Math.floor(rand() * (height - PATCH + 1)),
  }));
}
