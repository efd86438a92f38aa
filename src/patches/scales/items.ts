/**
 * A sampled descriptor's scales: each scale's level-0 square around the descriptor's centre, as
 * a /region request (the batch renders exactly that, so its imageUrl/maskUrl give the same bytes)
 * and as the `scales` entries of the descriptor.
 */
import type { SlideRow } from '../../catalogue/repo.js';
import type { Generation } from '../../generation.js';
import type { Schemas } from '../../http/types.js';
import { labelRaster } from '../../labels/slide-raster.js';
import { rasterLevelFor } from '../../masks/resample.js';
import { regionScale, type RegionRequest } from '../region.js';
import { patchFractions, type Descriptor } from '../sampler.js';
import type { SampleSpec } from '../spec.js';
import { scaleSizeL0, scaleSquares, type ScaleAsk, type ScaleSquare } from './geometry.js';

export interface ScaleRegion {
  ask: ScaleAsk;
  square: ScaleSquare;
  region: RegionRequest;
}

/** The /region request of each scale of a descriptor, in the order asked. */
export function scaleRegions(g: Generation, s: SlideRow, asks: readonly ScaleAsk[], d: Descriptor): ScaleRegion[] {
  const downsamples = g.catalogue.levels(s.id).map((l) => l.downsample);
  const squares = scaleSquares(
    { x: d.x, y: d.y, sizeL0: d.sizeL0 },
    asks.map((a) => scaleSizeL0(a, s.mpp_x, downsamples)),
  );
  return asks.map((ask, k) => ({
    ask,
    square: squares[k]!,
    region: { x: squares[k]!.x, y: squares[k]!.y, width: ask.size, height: ask.size, level: ask.level, mpp: ask.mpp },
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
  return scaleRegions(g, s, spec.scales!, d).map(({ ask, square, region }, k) => {
    const { level, l0PerPixel } = regionScale(g, s, region);
    // Scale 0 is the sampled patch: its fractions are the descriptor's (the criterion was checked on them).
    // Coarser scales count at the label level their mask is read from: a 4 um/px square covers ~4,000
    // level-0 pixels a side, and counting it at the raster's own level cost more than rendering it.
    const fractions =
      k === 0
        ? d.fractions
        : raster
          ? patchFractions(g, raster, square.x, square.y, square.sizeL0, rasterLevelFor(raster, l0PerPixel))
          : new Map([[0, 1]]);
    const res = ask.level !== null ? `level=${ask.level}` : `mpp=${ask.mpp}`;
    const q = `x=${square.x}&y=${square.y}&width=${ask.size}&height=${ask.size}&${res}`;
    return {
      x: square.x,
      y: square.y,
      sizeL0: square.sizeL0,
      level: ask.level ?? level,
      ...(ask.mpp !== null ? { mpp: ask.mpp } : s.mpp_x !== null ? { mpp: s.mpp_x * l0PerPixel } : {}),
      width: ask.size,
      height: ask.size,
      fractions: Object.fromEntries([...fractions].map(([v, f]) => [name(v), f])),
      imageUrl: `/slides/${d.slideId}/region?${q}&format=${spec.format}`,
      maskUrl: `/slides/${d.slideId}/region?${q}&layer=mask`,
    };
  });
}
