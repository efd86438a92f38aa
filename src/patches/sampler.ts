/**
 * Draws patch descriptors from the index: buckets (slide x class) weighted by the request, an
 * epoch plan (epoch.ts), then per patch a position inside its stratum of labelled pixels,
 * checked against the request's criteria on the label raster itself.
 */
import { LRUCache } from 'lru-cache';
import type { SlideRow } from '../catalogue/repo.js';
import { AppError } from '../errors.js';
import type { Generation } from '../generation.js';
import { buildPolygonTester, type PolygonTester } from '../labels/polygon-index.js';
import { LABEL_TILE_SIZE } from '../labels/raster.js';
import type { LabelRaster } from '../labels/reader.js';
import { labelRaster } from '../labels/slide-raster.js';
import { DEFAULT_NEAR_CACHE_BYTES, DEFAULT_NEAR_MAX_CELLS } from '../config.js';
import { inBand } from './distance.js';
import { createBandBuckets, distanceUmAt, type NearField } from './near-field.js';
import {
  isTissueValue,
  kthSelected,
  selectedCount,
  selects,
  tissueSelectorName,
  TISSUE_VALUE,
  UNLABELLED_TISSUE_VALUE,
} from '../tissue/selectors.js';
import { createRng, hash32, kthOfValue, planEpoch, searchCumulative, shardIndices } from './epoch.js';
import type { SampleSpec } from './spec.js';

export interface Descriptor {
  index: number;
  slideId: string;
  /** Top-left corner and size of the patch in level-0 pixels. */
  x: number;
  y: number;
  sizeL0: number;
  classValue: number;
  /** Fraction of the patch per class value (label-raster pixels whose centre lies in the patch). */
  fractions: Map<number, number>;
  /** With region.near: distance (um) from the patch centre to the near classes, and its error bound. */
  distanceUm?: number;
  distanceErrorUm?: number;
}

interface Bucket {
  slide: SlideRow;
  /** The label raster, or the tissue raster for the tissue selectors (value TISSUE_VALUE...). */
  raster: LabelRaster;
  value: number;
  /** Units (ux, uy) holding the class inside the region, and their cumulative pixel counts. */
  tiles: Int32Array;
  cum: Float64Array;
  weight: number;
  /** Side of a unit in raster pixels: a label tile, or a distance cell with region.near. */
  unit: number;
  /** With region.near: the slide's distance field. */
  near: NearField | null;
}

/** Longest stretch the sampler runs without letting other requests in. */
const YIELD_EVERY_MS = 10;
/** Attempts per patch inside its own bucket, then across the buckets of its class. */
const ATTEMPTS_IN_BUCKET = 40;
const ATTEMPTS_IN_CLASS = 40;
/** How long the warm-up waits before looking again whether sampling requests are done. */
const WARM_BACKOFF_MS = 20;

export interface SamplerOptions {
  /** Most cells of a region.near distance field (config NEAR_MAX_CELLS). */
  nearMaxCells?: number;
  /** Bytes of region.near fields and band cells kept (config NEAR_CACHE_BYTES). */
  nearCacheBytes?: number;
}

export function createSampler(g: Generation, opts: SamplerOptions = {}) {
  const nearBuckets = createBandBuckets(
    g,
    opts.nearMaxCells ?? DEFAULT_NEAR_MAX_CELLS,
    opts.nearCacheBytes ?? DEFAULT_NEAR_CACHE_BYTES,
  );
  /**
   * Per slide and class, the tiles holding the class and their cumulative pixel counts, as read
   * from the index: the whole-slide bucket, built once per index generation (a Camelyon16 slide
   * with full-tissue labels has ~15,000 such tiles per class; rebuilding them for every request
   * over 73 slides cost a second).
   */
  const wholeSlide = new LRUCache<string, { tiles: Int32Array; cum: Float64Array }>({ max: 4096 });
  // Rows as arrays, not objects: a large class has ~15,000 rows per slide, a million over 73.
  const countsStmt = g.db
    .prepare<[string, number], [number, number, number]>(
      'SELECT tx, ty, count FROM label_tile_counts WHERE slide_id = ? AND value = ? ORDER BY ty, tx',
    )
    .raw(true);
  const allCountsStmt = g.db
    .prepare<[string], [number, number, number, number]>(
      'SELECT value, tx, ty, count FROM label_tile_counts WHERE slide_id = ? ORDER BY value, ty, tx',
    )
    .raw(true);
  const wholeSlideBucket = (slideId: string, value: number) => {
    const key = `${slideId}:${value}`;
    let b = wholeSlide.get(key);
    if (!b) {
      const rows = isTissueValue(value) ? g.tissue.counts(slideId, value) : countsStmt.all(slideId, value);
      wholeSlide.set(key, (b = bucketOfRows(rows, 0, rows.length)));
    }
    return b;
  };

  /** Sampling requests running (or holding it back): the warm-up waits for them. */
  let sampling = 0;
  /**
   * Buckets cut to a region box, kept too: a training job sends the same request every epoch, and
   * cutting counts the class exactly in every tile the box's edges cross (a second, at 73 slides).
   */
  const inRegion = new LRUCache<string, { tiles: Int32Array; cum: Float64Array }>({ max: 4096 });
  const regionBucket = (
    slideId: string,
    value: number,
    box: NonNullable<SampleSpec['regionBox']>,
    cut: () => { tiles: Int32Array; cum: Float64Array },
  ) => {
    const key = `${slideId}:${value}:${box.x},${box.y},${box.width},${box.height}`;
    let b = inRegion.get(key);
    if (!b) inRegion.set(key, (b = cut()));
    return b;
  };

  /** Every class's whole-slide bucket of a slide, from one query (the warm-up's way). */
  const loadSlideBuckets = (slideId: string) => {
    const rows = allCountsStmt.all(slideId);
    for (let start = 0; start < rows.length;) {
      const value = rows[start]![0];
      let end = start;
      while (end < rows.length && rows[end]![0] === value) end++;
      wholeSlide.set(`${slideId}:${value}`, bucketOfRows(rows, start, end));
      start = end;
    }
  };

  /** `between` runs before each slide with region.near (a distance field can take ~0.1 s to build). */
  async function buckets(spec: SampleSpec, slides: SlideRow[], between: () => Promise<void>): Promise<Bucket[]> {
    const out: Bucket[] = [];
    for (const slide of slides) {
      if (spec.near) await between();
      const labels = labelRaster(slide);
      const tissue = spec.tissue ? g.tissue.raster(slide) : null;
      for (const value of spec.targets) {
        const raster = isTissueValue(value) ? tissue : labels;
        if (!raster) continue;
        const whole = wholeSlideBucket(slide.id, value);
        const part = spec.regionBox
          ? regionBucket(slide.id, value, spec.regionBox, () => restrictToRegion(g, spec, raster, value, whole))
          : whole;
        if (spec.near) {
          // Only the class pixels whose cells lie in the band: drawing elsewhere would only be rejected.
          const band = nearBuckets(spec.near, slide, raster, value, part, clipOf(spec, raster));
          if (band) out.push({ slide, raster, value, ...band, weight: 0 });
        } else if (part.cum.length > 0) {
          out.push({
            slide,
            raster,
            value,
            tiles: part.tiles,
            cum: part.cum,
            weight: 0,
            unit: LABEL_TILE_SIZE,
            near: null,
          });
        }
      }
    }
    weigh(spec, out);
    return out;
  }

  return {
    /**
     * Loads, slide by slide in the background, what a first request over the whole dataset would
     * otherwise read tile by tile: every class's whole-slide bucket and the grid of uniform label
     * tiles (~0.75 s of work for 73 Camelyon16-size slides, yielding between slides). It gives way
     * to sampling requests (waits while one runs), and stops when the index generation is closed
     * (a new ingest was published).
     */
    async warm(): Promise<void> {
      const { rows } = g.catalogue.listSlides({
        classValues: null,
        status: 'ok',
        limit: g.catalogue.slideCount(),
        offset: 0,
      });
      for (const slide of rows) {
        await new Promise((resolve) => setImmediate(resolve));
        while (sampling > 0) await new Promise((resolve) => setTimeout(resolve, WARM_BACKOFF_MS));
        if (!g.db.open) return;
        const raster = labelRaster(slide);
        if (!raster) continue;
        g.labels.preload(raster, 0);
        loadSlideBuckets(slide.id);
      }
    },
    /** Holds the warm-up back until the returned release is called (once; later calls do nothing). */
    hold(): () => void {
      sampling++;
      let held = true;
      return () => {
        if (held) sampling--;
        held = false;
      };
    },
    /**
     * Draws the shard's patches. Async on purpose: it yields to the event loop every few
     * milliseconds (other requests, health checks and the time budget keep running) and gives up
     * at `deadline` (ms since the epoch) with a 503.
     */
    async sample(spec: SampleSpec, slides: SlideRow[], deadline = Infinity): Promise<Descriptor[]> {
      sampling++;
      try {
        return await draw(spec, slides, deadline);
      } finally {
        sampling--;
      }
    },
  };

  async function draw(spec: SampleSpec, slides: SlideRow[], deadline: number): Promise<Descriptor[]> {
    const out: Descriptor[] = [];
    let slice = Date.now();
    const pause = async () => {
      await new Promise((resolve) => setImmediate(resolve));
      if (Date.now() > deadline)
        throw new AppError(
          503,
          'TIMEOUT',
          `sampling took too long (${out.length} of the shard's patches drawn): ask for fewer patches per shard`,
          { 'Retry-After': '5' },
        );
      slice = Date.now();
    };
    const all = await buckets(spec, slides, pause);
    const missing = spec.targets.filter((v) => !all.some((b) => b.value === v));
    if (missing.length > 0) {
      const names = missing.map(
        (v) => tissueSelectorName(v) ?? g.taxonomy.find((c) => c.value === v)?.name ?? String(v),
      );
      throw new AppError(
        422,
        'CLASS_NOT_PRESENT',
        `no labelled pixels of ${names.join(', ')} in the chosen slides and region${spec.near ? ' (and band of region.near)' : ''}: nothing to sample`,
      );
    }
    // Indexing a 100,000-vertex region takes a while: in slices, between other requests.
    const inRegion = spec.regionRings ? await buildPolygonTester(spec.regionRings, pause) : null;
    const plan = planEpoch(
      spec.count,
      all.map((b) => b.weight),
      spec.seed,
      spec.epoch,
    );
    // Skipping to `start` is exact: patch i depends only on (seed, epoch, i) and the plan.
    const indices = shardIndices(spec.count, spec.shard, spec.shards, spec.blockSize);
    for (const i of indices.slice(spec.start, spec.limit === null ? undefined : spec.start + spec.limit)) {
      out.push(
        drawPatch(g, spec, inRegion, all, plan.bucketOf[i]!, plan.stratumOf[i]!, plan.perBucket[plan.bucketOf[i]!]!, i),
      );
      if (Date.now() - slice >= YIELD_EVERY_MS) await pause();
    }
    return out;
  }
}

/** The tiles and cumulative pixel counts of count rows [from, to), each ending in tx, ty, count. */
function bucketOfRows(
  rows: ReadonlyArray<readonly number[]>,
  from: number,
  to: number,
): { tiles: Int32Array; cum: Float64Array } {
  const tiles = new Int32Array((to - from) * 2);
  const cum = new Float64Array(to - from);
  let total = 0;
  for (let i = from; i < to; i++) {
    const r = rows[i]!;
    const n = r.length;
    tiles[2 * (i - from)] = r[n - 3]!;
    tiles[2 * (i - from) + 1] = r[n - 2]!;
    cum[i - from] = total += r[n - 1]!;
  }
  return { tiles, cum };
}

/** Class, slide and pair weights as the request's balance or weights say (see the README). */
function weigh(spec: SampleSpec, all: Bucket[]): void {
  const mass = (b: Bucket) => b.cum[b.cum.length - 1]!;
  const sum = (xs: Bucket[]) => xs.reduce((a, b) => a + mass(b), 0);
  for (const b of all) {
    if (spec.balance === 'classes-per-slide') b.weight = 1;
    else if (spec.balance === 'slides') b.weight = mass(b) / sum(all.filter((x) => x.slide.id === b.slide.id));
    else {
      const w = spec.weights ? spec.weights[spec.targets.indexOf(b.value)]! : 1;
      b.weight = (w * mass(b)) / sum(all.filter((x) => x.value === b.value));
    }
  }
}

/** The part of a whole-slide bucket inside the request's region box (exact masses at its edges). */
function restrictToRegion(
  g: Generation,
  spec: SampleSpec,
  r: LabelRaster,
  value: number,
  whole: { tiles: Int32Array; cum: Float64Array },
): { tiles: Int32Array; cum: Float64Array } {
  const tiles: number[] = [];
  const cum: number[] = [];
  let total = 0;
  for (let i = 0; i < whole.cum.length; i++) {
    const count = whole.cum[i]! - (i > 0 ? whole.cum[i - 1]! : 0);
    const n = massInRegion(g, spec, r, whole.tiles[2 * i]!, whole.tiles[2 * i + 1]!, value, count);
    if (n <= 0) continue;
    tiles.push(whole.tiles[2 * i]!, whole.tiles[2 * i + 1]!);
    cum.push((total += n));
  }
  return { tiles: Int32Array.from(tiles), cum: Float64Array.from(cum) };
}

/**
 * Pixels of the class in a tile that lie inside the region's box: the tile count when the tile
 * is wholly inside (or there is no box), an exact count of the clipped part when it straddles
 * the edge, 0 outside. Bucket masses are then exact, so an empty region is known before drawing.
 */
function massInRegion(
  g: Generation,
  spec: SampleSpec,
  r: LabelRaster,
  tx: number,
  ty: number,
  value: number,
  count: number,
): number {
  const clip = clipToRegion(spec, r, tx, ty);
  if (clip === null) return 0;
  if (clip === 'whole') return count;
  return selectedCount(readerFor(g, value).histogram(r, 0, clip.x, clip.y, clip.width, clip.height), value);
}

type Clip = { x: number; y: number; width: number; height: number };

/** The raster pixels whose centres lie in the request's region box, or null without one. */
function clipOf(spec: SampleSpec, r: LabelRaster) {
  return spec.regionBox ? labelClip(spec.regionBox, r.downsample) : null;
}

/** The raster pixels whose centres lie in a level-0 box: columns [x0, x1), rows [y0, y1). */
function labelClip(box: NonNullable<SampleSpec['regionBox']>, D: number) {
  // Raster pixel i has its centre in [box.x, box.x + width) when i is in [ceil(x/D - 0.5), ceil((x + w)/D - 0.5)).
  return {
    x0: Math.ceil(box.x / D - 0.5),
    y0: Math.ceil(box.y / D - 0.5),
    x1: Math.ceil((box.x + box.width) / D - 0.5),
    y1: Math.ceil((box.y + box.height) / D - 0.5),
  };
}

/** The part of a unit (a label tile, or a distance cell: `ts` raster pixels a side) whose centres lie in the box. */
function clipToRegion(
  spec: SampleSpec,
  r: LabelRaster,
  tx: number,
  ty: number,
  ts = LABEL_TILE_SIZE,
): Clip | 'whole' | null {
  const box = spec.regionBox;
  if (!box) return 'whole';
  const c = labelClip(box, r.downsample);
  const x0 = Math.max(tx * ts, c.x0);
  const y0 = Math.max(ty * ts, c.y0);
  const x1 = Math.min((tx + 1) * ts, c.x1);
  const y1 = Math.min((ty + 1) * ts, c.y1);
  if (x1 <= x0 || y1 <= y0) return null;
  if (x0 === tx * ts && y0 === ty * ts && x1 === (tx + 1) * ts && y1 === (ty + 1) * ts) return 'whole';
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

function drawPatch(
  g: Generation,
  spec: SampleSpec,
  inRegion: PolygonTester | null,
  all: Bucket[],
  bucketIndex: number,
  stratum: number,
  strata: number,
  i: number,
): Descriptor {
  const own = all[bucketIndex]!;
  const sameClass = all.filter((b) => b.value === own.value);
  const classCum = new Float64Array(sameClass.length);
  sameClass.reduce((acc, b, k) => (classCum[k] = acc + b.weight), 0);
  for (let a = 0; a < ATTEMPTS_IN_BUCKET + ATTEMPTS_IN_CLASS; a++) {
    const rnd = createRng(hash32(spec.seed, spec.epoch, i, a));
    let bucket = own;
    let u: number;
    if (a === 0) u = (stratum + rnd()) / strata;
    else if (a < ATTEMPTS_IN_BUCKET) u = rnd();
    else {
      // The bucket has no acceptable spot near its strata: let another slide give this class.
      bucket = sameClass[searchCumulative(classCum, rnd() * classCum[classCum.length - 1]!)]!;
      u = rnd();
    }
    const d = tryPosition(g, spec, inRegion, bucket, u, rnd, i);
    if (d) return d;
  }
  const name =
    tissueSelectorName(own.value) ?? g.taxonomy.find((c) => c.value === own.value)?.name ?? String(own.value);
  throw new AppError(
    422,
    'NO_QUALIFYING_PATCH',
    `no ${spec.sizeLabel} patch of "${name}" meets the criteria (minFraction ${spec.minFraction}, exclusions, region${spec.near ? ', near' : ''}) after ${ATTEMPTS_IN_BUCKET + ATTEMPTS_IN_CLASS} attempts: lower minFraction, the patch size or the exclusions`,
  );
}

function tryPosition(
  g: Generation,
  spec: SampleSpec,
  inRegion: PolygonTester | null,
  b: Bucket,
  u: number,
  rnd: () => number,
  i: number,
): Descriptor | null {
  const total = b.cum[b.cum.length - 1]!;
  const mass = Math.min(total - 1e-9, u * total);
  const k = searchCumulative(b.cum, mass);
  const before = k > 0 ? b.cum[k - 1]! : 0;
  const tx = b.tiles[2 * k]!;
  const ty = b.tiles[2 * k + 1]!;
  const ts = b.unit;
  // Draw among the class pixels of the part of the unit inside the region: what the mass counted.
  const c = clipToRegion(spec, b.raster, tx, ty, ts);
  const clip = c === 'whole' || c === null ? { x: tx * ts, y: ty * ts, width: ts, height: ts } : c;
  const nth = Math.min(b.cum[k]! - before - 1, Math.floor(mass - before));
  const reader = readerFor(g, b.value);
  const at =
    (c === 'whole' || c === null) && ts === LABEL_TILE_SIZE
      ? nthInTile(reader.tile(b.raster, 0, tx, ty), b.value, nth)
      : isTissueValue(b.value)
        ? kthSelected(reader.region(b.raster, 0, clip.x, clip.y, clip.width, clip.height), b.value, nth)
        : kthOfValue(reader.region(b.raster, 0, clip.x, clip.y, clip.width, clip.height), b.value, nth);
  if (at < 0) return null;
  const D = b.raster.downsample;
  const cx = (clip.x + (at % clip.width) + rnd()) * D;
  const cy = (clip.y + Math.floor(at / clip.width) + rnd()) * D;
  const sizeL0 = spec.sizeL0(b.slide);
  // Snap to the label grid so the patch covers whole label pixels: fractions are then exact.
  // A tissue bucket snaps to the label grid too when the slide has labels (its class fractions stay
  // exact), to whole level-0 pixels when it has none.
  const snap = labelRaster(b.slide)?.downsample ?? 1;
  const x = Math.round((cx - sizeL0 / 2) / snap) * snap;
  const y = Math.round((cy - sizeL0 / 2) / snap) * snap;
  if (x < 0 || y < 0 || x + sizeL0 > b.slide.width || y + sizeL0 > b.slide.height) return null;
  const centreX = x + sizeL0 / 2;
  const centreY = y + sizeL0 / 2;
  const box = spec.regionBox;
  if (box && (centreX < box.x || centreY < box.y || centreX >= box.x + box.width || centreY >= box.y + box.height))
    return null;
  if (inRegion && !inRegion(centreX, centreY)) return null;
  // The band is checked at the final centre: snapping may have moved it into a neighbouring cell.
  const distanceUm = b.near ? distanceUmAt(b.near, centreX, centreY) : undefined;
  if (distanceUm !== undefined && !inBand(distanceUm, spec.near!.outsideUm, spec.near!.withinUm)) return null;
  const fractions = descriptorFractions(g, spec, b.slide, x, y, sizeL0);
  const f = (vs: readonly number[]) => vs.reduce((a, v) => a + (fractions.get(v) ?? 0), 0);
  if (spec.criterion === 'fraction' && (fractions.get(b.value) ?? 0) < spec.minFraction) return null;
  if (
    spec.criterion === 'center' &&
    kthSelected(reader.region(b.raster, 0, Math.floor(centreX / D), Math.floor(centreY / D), 1, 1), b.value, 0) !== 0
  )
    return null;
  if (spec.exclude && f(spec.exclude.values) > spec.exclude.maxFraction) return null;
  if (spec.within && f(spec.within.values) < spec.within.minFraction) return null;
  const near = b.near ? { distanceUm, distanceErrorUm: b.near.errorUm } : {};
  return { index: i, slideId: b.slide.id, x, y, sizeL0, classValue: b.value, fractions, ...near };
}

/**
 * The n-th pixel of `value` in a whole tile: direct in a uniform tile (most tiles inside tissue),
 * a scan otherwise. Draws rarely hit the same mixed tile twice over a real dataset (a slide has
 * ~15,000 labelled tiles), so no per-tile index is kept: building one costs a full scan.
 */
function nthInTile(tile: Uint8Array | number, value: number, n: number): number {
  if (typeof tile === 'number') return selects(tile, value) ? n : -1;
  return isTissueValue(value) ? kthSelected(tile, value, n) : kthOfValue(tile, value, n);
}

/** The tiles of class buckets come from the label raster, those of tissue selectors from the tissue raster. */
function readerFor(g: Generation, value: number) {
  return isTissueValue(value) ? g.tissue.reader : g.labels;
}

/**
 * A descriptor's fractions: per class of the label raster (all unlabelled on a slide without
 * labels), plus `tissue` and `unlabelled-tissue` (keys TISSUE_VALUE, UNLABELLED_TISSUE_VALUE) when
 * the request uses them, over the tissue raster pixels whose centres lie in the patch.
 */
export function descriptorFractions(
  g: Generation,
  spec: Pick<SampleSpec, 'tissue'>,
  slide: SlideRow,
  x: number,
  y: number,
  sizeL0: number,
): Map<number, number> {
  const labels = labelRaster(slide);
  const out = labels ? patchFractions(g, labels, x, y, sizeL0) : new Map([[0, 1]]);
  const tissue = spec.tissue ? g.tissue.raster(slide) : null;
  if (tissue) {
    const t = patchFractions(g, tissue, x, y, sizeL0, 0, g.tissue.reader);
    const hist = new Float64Array(256);
    for (const [v, f] of t) hist[v] = f;
    out.set(TISSUE_VALUE, selectedCount(hist, TISSUE_VALUE));
    out.set(UNLABELLED_TISSUE_VALUE, selectedCount(hist, UNLABELLED_TISSUE_VALUE));
  }
  return out;
}

/** Counters reused by patchFractions (synchronous: one call at a time), zeroed again after each use. */
const cellCounts = new Uint32Array(256);
const cellSeen: number[] = [];

/**
 * Fractions over the label pixels whose centres lie inside the level-0 square (x, y, size), at
 * a level of the label raster (0: its own pixels; a coarser one for a large square: see
 * scales/items.ts), in ascending value order: each value's pixel count over the rectangle's pixels,
 * in doubles. The counters are reused and only the values present are visited (a grid asks this
 * for millions of cells). `reader`: the label raster's, or the tissue raster's.
 */
export function patchFractions(
  g: Generation,
  r: LabelRaster,
  x: number,
  y: number,
  sizeL0: number,
  level = 0,
  reader = g.labels,
): Map<number, number> {
  const D = r.downsample * 2 ** level;
  const rx0 = Math.ceil(x / D - 0.5);
  const ry0 = Math.ceil(y / D - 0.5);
  const rx1 = Math.ceil((x + sizeL0) / D - 0.5);
  const ry1 = Math.ceil((y + sizeL0) / D - 0.5);
  const w = Math.max(1, rx1 - rx0);
  const h = Math.max(1, ry1 - ry0);
  const area = w * h;
  cellSeen.length = 0;
  let inside: number;
  try {
    inside = reader.countInto(r, level, rx0, ry0, w, h, cellCounts, cellSeen);
  } catch (e) {
    for (const v of cellSeen) cellCounts[v] = 0; // a failed read (a damaged index) leaves no count behind
    throw e;
  }
  // Pixels off the raster are unlabelled (0), as the histogram counts them.
  if (area > inside && cellCounts[0] === 0) cellSeen.push(0);
  if (cellSeen.length > 1) cellSeen.sort((a, b) => a - b);
  const out = new Map<number, number>();
  for (const v of cellSeen) {
    const n = v === 0 ? cellCounts[0]! + (area - inside) : cellCounts[v]!;
    cellCounts[v] = 0;
    if (n > 0) out.set(v, n / area);
  }
  return out;
}
