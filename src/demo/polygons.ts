/**
 * Real Camelyon16 tumour outlines (level-0 coordinates of their original slides), made safe for
 * the scene: every kept hole lies inside exactly one kept tumour polygon and overlaps nothing
 * else, so "outer ring + holes, even-odd" means the same as ASAP's "paint tumour, erase holes".
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { blobRing, ringInside, ringsOverlap, transformRing, type Ring } from './geometry.js';
import type { Rng } from './random.js';

export interface TumourPolygon {
  name: string;
  outer: Ring;
  holes: Ring[];
}

export interface TumourPolygonSet {
  /** File the outlines came from, or "generated" for the fallback blobs. */
  source: string;
  polygons: TumourPolygon[];
  /** Holes and polygons left out because they overlapped (a few real files have such slips). */
  dropped: number;
}

interface RawPolygon {
  name: string;
  vertices: Array<[number, number]>;
}

interface RawFile {
  positive: RawPolygon[];
  negative: RawPolygon[];
}

/**
 * Default place of the real outlines: the shared fixtures next to the repository. Resolved from
 * this module's own file (src/demo/ or dist/demo/, both two levels below the repository root), not
 * the working directory, so the service finds them wherever it is started from.
 */
export function defaultPolygonsDir(): string {
  return fileURLToPath(new URL('../../../shared/fixtures/real/camelyon16/tumor-polygons', import.meta.url));
}

function toRing(vertices: Array<[number, number]>): Ring {
  return transformRing(Float64Array.from(vertices.flat()), 1, 0, 0);
}

function parseFile(text: string, file: string): RawFile {
  const data = JSON.parse(text) as Partial<RawFile>;
  if (!Array.isArray(data.positive) || !Array.isArray(data.negative)) {
    throw new Error(`${file}: expected {"positive": [...], "negative": [...]}`);
  }
  return { positive: data.positive, negative: data.negative };
}

/** Keeps positives that overlap no earlier one, and holes that sit cleanly inside one of them. */
export function sanitise(
  positives: Array<{ name: string; ring: Ring }>,
  negatives: Ring[],
  source: string,
): TumourPolygonSet {
  const polygons: TumourPolygon[] = [];
  let dropped = 0;
  for (const { name, ring } of positives) {
    if (ring.length < 6 || polygons.some((q) => ringsOverlap(q.outer, ring))) dropped++;
    else polygons.push({ name, outer: ring, holes: [] });
  }
  for (const hole of negatives) {
    const owner = hole.length >= 6 ? polygons.find((p) => ringInside(hole, p.outer)) : undefined;
    if (!owner || owner.holes.some((h) => ringsOverlap(h, hole))) dropped++;
    else owner.holes.push(hole);
  }
  return { source, polygons, dropped };
}

/** Reads and sanitises one outline file; `null` when it is not there (the caller falls back). */
export function loadTumourPolygons(dir: string, file: string): TumourPolygonSet | null {
  const path = join(dir, file);
  if (!existsSync(path)) return null;
  const raw = parseFile(readFileSync(path, 'utf8'), file);
  const positives = raw.positive.map((p) => ({ name: p.name, ring: toRing(p.vertices) }));
  return sanitise(
    positives,
    raw.negative.map((n) => toRing(n.vertices)),
    file,
  );
}

/** Blobby stand-ins when the real outlines are not available: two tumours, one with holes. */
export function generatedTumours(rng: Rng): TumourPolygonSet {
  const positives = [
    { name: '_0', ring: blobRing(rng, 5000, 5000, 4000, 3000, 0.15, 160) },
    { name: '_1', ring: blobRing(rng, 10200, 8400, 900, 700, 0.3, 64) },
  ];
  const holes = [blobRing(rng, 4300, 4700, 500, 400, 0.2, 32), blobRing(rng, 5900, 5300, 400, 500, 0.2, 32)];
  return { ...sanitise(positives, holes, 'generated'), dropped: 0 };
}
