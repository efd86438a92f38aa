/**
 * Open bugs the hostile-input properties found and that are not fixed yet. The properties do
 * not send inputs that trigger them (each one would take seconds to minutes, or gigabytes, and
 * hide everything after it); the skipped regression tests in test/fuzz/hostile.test.ts
 * reproduce each one (FUZZ_KNOWN_BUGS=1 runs them). When a bug is fixed, delete its entry here
 * and un-skip its test.
 */
import type { Sent } from './fuzz-app.js';

export interface SlideGeometry {
  /** Micrometres per level-0 pixel, or null. */
  mpp: number | null;
  /** Downsample of each stored level, finest first. */
  downsamples: number[];
}

/** Source pixels above which a region read is the bug below (100 MB of RGB). */
const READ_PIXELS_BUG = 2 ** 25;
/** Patches per shard above which /samples and /batches sample for seconds on the event loop. */
const SAMPLES_PER_SHARD_BUG = 20_000;

/**
 * KNOWN BUG 1 (region read unbounded at coarse mpp): GET /slides/{id}/region picks the coarsest
 * stored level at most as coarse as the mpp asked, then reads `width x mpp/level` source pixels
 * (white where the rectangle leaves the slide); `maxRegionPixels` bounds only the output. A
 * 64 x 64 patch at mpp=1000 reads ~1e9 pixels (3.2 GB, then 422 ENCODE_FAILED); at 2048 x 2048
 * Buffer.alloc throws a RangeError that guardPixels reports as 503 SLIDE_UNAVAILABLE ("file
 * missing or damaged"). (/batches patches lie inside the slide, so their reads stay bounded.)
 */
export function regionReadPixels(s: SlideGeometry, mpp: number, width: number, height: number): number {
  if (s.mpp === null) return 0;
  const l0PerPixel = mpp / s.mpp;
  if (l0PerPixel < 0.999) return 0;
  let level = 0;
  for (let i = 1; i < s.downsamples.length; i++) if (l0PerPixel >= s.downsamples[i]!) level = i;
  const scale = l0PerPixel / s.downsamples[level]!;
  return Math.max(1, Math.round(width * scale)) * Math.max(1, Math.round(height * scale));
}

/**
 * KNOWN BUG 2 (sampling unbounded and synchronous): POST /samples and /batches draw every patch
 * of the shard on the event loop, each with up to 80 attempts, each testing the region polygon
 * (O(vertices)) and the patch's label histogram (O(size^2)). count=100000 alone takes ~3.4 s;
 * with a 99,999-vertex polygon 44 s, during which the process answers nothing (not even
 * /healthz, and the time budget cannot fire).
 */
function slowSampling(body: Record<string, unknown>): boolean {
  const count = typeof body.count === 'number' ? body.count : 64;
  const shards = typeof body.shards === 'number' && body.shards >= 1 ? body.shards : 1;
  const perShard = Math.ceil(count / shards);
  const vertices = countVertices((body.region as { polygon?: { coordinates?: unknown } } | undefined)?.polygon?.coordinates);
  return perShard > SAMPLES_PER_SHARD_BUG || (vertices > 10_000 && perShard > 1_000);
}

function countVertices(c: unknown, depth = 0): number {
  if (!Array.isArray(c) || depth > 6) return 0;
  if (c.length >= 2 && typeof c[0] === 'number') return 1;
  let n = 0;
  for (const x of c) n += countVertices(x, depth + 1);
  return n;
}

/** The open bug `r` would trigger, or null. */
export function knownBug(r: Sent, slides: ReadonlyMap<string, SlideGeometry>): string | null {
  let u: URL;
  try {
    u = new URL(`http://x${r.path}`);
  } catch {
    return null;
  }
  const region = /^\/slides\/([^/]+)\/region$/.exec(u.pathname);
  if (region && r.method === 'GET') {
    const s = slides.get(safeDecode(region[1]!));
    const nums = (k: string) => u.searchParams.getAll(k).map(Number).filter(Number.isFinite);
    for (const mpp of nums('mpp')) for (const w of nums('width')) for (const h of nums('height')) if (s && regionReadPixels(s, mpp, w, h) > READ_PIXELS_BUG) return 'region read unbounded at coarse mpp';
    return null;
  }
  if (r.method === 'POST' && /^\/(samples|batches)$/.test(u.pathname) && r.body !== undefined) {
    let body: unknown;
    try {
      body = JSON.parse(Buffer.isBuffer(r.body) ? r.body.toString('utf8') : r.body);
    } catch {
      return null;
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return null;
    const b = body as Record<string, unknown>;
    if (slowSampling(b)) return 'sampling unbounded and synchronous';
  }
  return null;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
