/**
 * GET /slides/{id}/region up to its body: the parameters checked, the slide found, the ETag named,
 * and the body still to make. The express route (routes.ts) and the hot-path dispatcher
 * (src/fastpath/region.ts) both answer through it, so both take the same checks in the same order
 * and name the same ETag; only the HTTP around it differs.
 */
import { AppError } from '../errors.js';
import type { Generation } from '../generation.js';
import { enumParam, intParam, numberParam, type QuerySource } from '../http/params.js';
import type { RegionRenderer } from '../slides/region.js';
import {
  CONTENT_TYPES,
  encodeMaskRegion,
  imageRegion,
  maskRegion,
  tissueRegion,
  type RegionFormat,
  type RegionRequest,
} from './region.js';

/** A region may read up to this many times its output pixels (resampling from the next finer level). */
export const SOURCE_FACTOR = 4;

export interface RegionPlanDeps {
  current(): Generation;
  regions: RegionRenderer;
  /** Which decoder renders regions: part of every image ETag (see SlidePool.renderer). */
  renderer: string;
  /** Largest width x height a region request may ask for. */
  maxRegionPixels: number;
}

export interface RegionPlan {
  /** The strong ETag, unquoted. */
  etag: string;
  contentType: string;
  /** X-Array-Shape of raw and npy answers (their dtype is uint8), else null. */
  arrayShape: string | null;
  /** The body; a bad request found only now (e.g. a rectangle off the slide) rejects with its AppError. */
  body(): Promise<Buffer>;
}

const LAYERS = ['image', 'mask', 'tissue'] as const;
const FORMATS: readonly RegionFormat[] = ['jpeg', 'png', 'webp', 'raw', 'npy'];

/** Throws the request's AppError (400, 404, 413, 422, 503 without an index) before anything is rendered. */
export function createRegionPlanner(deps: RegionPlanDeps): (slideId: string, req: QuerySource) => RegionPlan {
  const maxSourcePixels = deps.maxRegionPixels * SOURCE_FACTOR;
  return (slideId, req) => {
    const g = deps.current();
    const s = g.readableSlide(slideId);
    const region = regionParams(req, deps.maxRegionPixels);
    const layer = enumParam(req, 'layer', 'image', LAYERS);
    if (layer === 'tissue') g.tissue.require(s, 'layer');
    const format = enumParam<RegionFormat>(req, 'format', layer === 'image' ? 'jpeg' : 'png', FORMATS);
    const quality = intParam(req, 'quality', 90, 30, 100);
    const etag = `${s.etag}-r${layer === 'image' ? deps.renderer : ''}${region.x}.${region.y}.${region.width}.${region.height}.${region.level ?? ''}.${region.mpp ?? ''}.${layer}.${format}.${quality}`;
    const array = format === 'raw' || format === 'npy';
    const body = async () =>
      layer === 'mask'
        ? encodeMaskRegion(maskRegion(g, s, region), region, format)
        : layer === 'tissue'
          ? encodeMaskRegion(tissueRegion(g, s, region), region, format)
          : imageRegion(g, deps.regions, s, region, format, quality, maxSourcePixels);
    return {
      etag,
      contentType: CONTENT_TYPES[format],
      arrayShape: !array
        ? null
        : layer === 'image'
          ? `${region.height},${region.width},3`
          : `${region.height},${region.width}`,
      body,
    };
  };
}

function regionParams(req: QuerySource, maxPixels: number): RegionRequest {
  for (const p of ['x', 'y', 'width', 'height'])
    if (req.query[p] === undefined) throw new AppError(400, 'INVALID_PARAMETER', `query parameter "${p}" is required`);
  // Negative: a rectangle over the top or left edge, padded like the right and bottom ones (region.ts).
  const x = intParam(req, 'x', 0, -(2 ** 32 - 1), 2 ** 32 - 1);
  const y = intParam(req, 'y', 0, -(2 ** 32 - 1), 2 ** 32 - 1);
  const width = intParam(req, 'width', 1, 1, 8192);
  const height = intParam(req, 'height', 1, 1, 8192);
  if (width * height > maxPixels) {
    throw new AppError(
      413,
      'REGION_TOO_LARGE',
      `a region may have at most ${maxPixels} pixels; ${width} x ${height} = ${width * height}`,
    );
  }
  const level = req.query.level === undefined ? null : intParam(req, 'level', 0, 0, 31);
  const mpp = numberParam(req, 'mpp', undefined, 0.05, 1000) ?? null;
  if (level !== null && mpp !== null) throw new AppError(400, 'INVALID_PARAMETER', 'give level or mpp, not both');
  return { x, y, width, height, level: mpp === null ? (level ?? 0) : null, mpp };
}
