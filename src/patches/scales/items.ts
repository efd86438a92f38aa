/**
 * A sampled descriptor's scales: each scale's level-0 square around the descriptor's centre, as
 * a /region request (the batch renders exactly that, so its imageUrl/maskUrl give the same bytes)
 * and as the `scales` entries of the descriptor.
 */
import type { SlideRow } from '../../catalogue/repo.js';
import { AppError } from '../../errors.js';
import type { Generation } from '../../generation.js';
import type { Schemas } from '../../http/types.js';
import { labelRaster } from '../../labels/slide-raster.js';
import type { RasterGeometry } from '../../labels/raster.js';
import { rasterLevelFor } from '../../masks/resample.js';
import { bestLevelForDownsample } from '../../tiles/deepzoom.js';
import type { RegionRequest } from '../region.js';
import { patchFractions, type Descriptor } from '../sampler.js';
import type { SampleSpec } from '../spec.js';
import { scaleSizeL0, scaleSquares, type ScaleAsk, type ScaleSquare } from './geometry.js';

export interface ScaleRegion {
  ask: ScaleAsk;
  square: ScaleSquare;
  region: RegionRequest;
  /** The stored level the pixels come from (regionScale's choice, from the same downsamples). */
  level: number;
}

/**
 * Other scales' fractions are counted on a grid of at least this many label pixels a side: a
 * 4 um/px square spans ~4,000 level-0 pixels a side, and counting it at the raster's own level
 * cost more than rendering the scale (~1 ms a descriptor); 64 x 64 counts to 1/4096.
 */
const FRACTION_GRID = 64;
/** Longest stretch of descriptor building without letting other requests in. */
const YIELD_EVERY_MS = 10;

/** Level downsamples per slide of an index generation (read-only): one query per slide, not one per descriptor. */
const downsampleCache = new WeakMap<Generation, Map<string, number[]>>();
function slideDownsamples(g: Generation, slideId: string): number[] {
  let bySlide = downsampleCache.get(g);
  if (!bySlide) downsampleCache.set(g, (bySlide = new Map()));
  let ds = bySlide.get(slideId);
  if (!ds) bySlide.set(slideId, (ds = g.catalogue.levels(slideId).map((l) => l.downsample)));
  return ds;
}

/** The /region request of each scale of a descriptor, in the order asked. */
export function scaleRegions(g: Generation, s: SlideRow, asks: readonly ScaleAsk[], d: Descriptor): ScaleRegion[] {
  const downsamples = slideDownsamples(g, s.id);
  const sizes = asks.map((a) => scaleSizeL0(a, s.mpp_x, downsamples));
  const squares = scaleSquares({ x: d.x, y: d.y, sizeL0: d.sizeL0 }, sizes);
  return asks.map((ask, k) => ({
    ask,
    square: squares[k]!,
    region: { x: squares[k]!.x, y: squares[k]!.y, width: ask.size, height: ask.size, level: ask.level, mpp: ask.mpp },
    // regionScale's rule and arithmetic (mpp / the slide's mpp), so the level named is the one read.
    level: ask.level ?? bestLevelForDownsample(downsamples, ask.mpp! / s.mpp_x!),
  }));
}

/** The descriptor's `scales`: geometry, resolution, label fractions and the /region URLs of each scale. */
export function scaleItems(
  g: Generation,
  spec: SampleSpec,
  d: Descriptor,
  name: (value: number) => string,
): Schemas['SampleScale'][] {
  const s = g.slide(d.slideId);
  const raster = labelRaster(s);
  return scaleRegions(g, s, spec.scales!, d).map(({ ask, square, level }, k) => {
    const l0PerPixel = square.sizeL0 / ask.size;
    // Scale 0 is the sampled patch: its fractions are the descriptor's (the criterion was checked on them).
    const fractions =
      k === 0
        ? d.fractions
        : raster
          ? patchFractions(g, raster, square.x, square.y, square.sizeL0, fractionLevel(raster, square.sizeL0))
          : new Map([[0, 1]]);
    const res = ask.level !== null ? `level=${ask.level}` : `mpp=${ask.mpp}`;
    const q = `x=${square.x}&y=${square.y}&width=${ask.size}&height=${ask.size}&${res}`;
    return {
      x: square.x,
      y: square.y,
      sizeL0: square.sizeL0,
      level,
      ...(ask.mpp !== null ? { mpp: ask.mpp } : s.mpp_x !== null ? { mpp: s.mpp_x * l0PerPixel } : {}),
      width: ask.size,
      height: ask.size,
      fractions: Object.fromEntries([...fractions].map(([v, f]) => [name(v), f])),
      imageUrl: `/slides/${d.slideId}/region?${q}&format=${spec.format}`,
      maskUrl: `/slides/${d.slideId}/region?${q}&layer=mask`,
    };
  });
}

/** The coarsest label level whose pixels are at most 1/FRACTION_GRID of the square's side. */
function fractionLevel(raster: RasterGeometry, sizeL0: number): number {
  return rasterLevelFor(raster, sizeL0 / FRACTION_GRID);
}

/**
 * items.map(fn), yielding to the event loop every few milliseconds: a descriptor with scales
 * counts label fractions for each scale, and 20,000 of them must not hold other requests back.
 * Past `deadline` (ms since the epoch): a 503, as the sampler gives.
 */
export async function mapYielding<T, U>(items: readonly T[], fn: (t: T) => U, deadline: number): Promise<U[]> {
  const out: U[] = [];
  let slice = Date.now();
  for (const t of items) {
    out.push(fn(t));
    if (Date.now() - slice < YIELD_EVERY_MS) continue;
    await new Promise((resolve) => setImmediate(resolve));
    if (Date.now() > deadline)
      throw new AppError(
        503,
        'TIMEOUT',
        `describing the scales took too long (${out.length} of ${items.length} descriptors): ask for fewer patches per shard`,
        { 'Retry-After': '5' },
      );
    slice = Date.now();
  }
  return out;
}
