/**
 * Training-patch endpoints (HTTP only): GET /slides/{id}/region, POST /samples, POST /batches.
 */
import express, { type Router, type Request, type Response } from 'express';
import { createRouter } from '../http/router.js';
import { AppError } from '../errors.js';
import type { Generation } from '../generation.js';
import { IMMUTABLE_CACHE, notModified, sendImage } from '../http/cache.js';
import { enumParam, intParam, numberParam } from '../http/params.js';
import type { Limiter } from '../http/limits.js';
import type { Schemas } from '../http/types.js';
import type { RegionRenderer } from '../slides/region.js';
import { tissueSelectorName } from '../tissue/selectors.js';
import {
  CONTENT_TYPES,
  encodeMaskRegion,
  imageRegion,
  maskRegion,
  tissueRegion,
  type RegionFormat,
  type RegionRequest,
} from './region.js';
import { createSampler, type Descriptor } from './sampler.js';
import { parseSampleRequest, type SampleSpec } from './spec.js';
import { shardIndices } from './epoch.js';
import { splitSlides } from '../splits/build.js';
import type { SplitStore } from '../splits/store.js';
import { mapYielding, scaleItems } from './scales/items.js';
import { streamBatch } from './batch/stream.js';
import { checkScales } from './scales/request.js';

export interface PatchRouteDeps {
  current(): Generation;
  regions: RegionRenderer;
  /** Which decoder renders regions: part of every image ETag (see SlidePool.renderer). */
  renderer: string;
  limiter: Limiter;
  /** Largest width x height a region request may ask for. */
  maxRegionPixels: number;
  maxBodyBytes: number;
  /** Most samples one /batches response may stream. */
  maxBatchSamples: number;
  /** Most descriptors one /samples request (one shard) may draw. */
  maxSamples: number;
  /** Most vertices of a region polygon in a sample request. */
  maxRegionVertices: number;
  /** Most cells of a region.near distance field (default DEFAULT_NEAR_MAX_CELLS). */
  nearMaxCells?: number;
  /** Bytes of region.near fields and band cells kept (default DEFAULT_NEAR_CACHE_BYTES). */
  nearCacheBytes?: number;
  requestTimeoutMs: number;
  /** Stored splits, for the `split` field of sample requests. */
  splits?: SplitStore;
}

/** A region may read up to this many times its output pixels (resampling from the next finer level). */
const SOURCE_FACTOR = 4;

const samplers = new WeakMap<Generation, ReturnType<typeof createSampler>>();

export function patchRoutes(deps: PatchRouteDeps): Router {
  const r = createRouter();
  const json = express.json({ limit: deps.maxBodyBytes, strict: true });
  const sampler = (g: Generation) => {
    let s = samplers.get(g);
    if (!s) {
      samplers.set(g, (s = createSampler(g, { nearMaxCells: deps.nearMaxCells, nearCacheBytes: deps.nearCacheBytes })));
      // A failed warm-up only means the first requests read more: they still answer.
      s.warm().catch(() => undefined);
    }
    return s;
  };
  // Warm the index that is being served now (an index published later warms on first use).
  try {
    sampler(deps.current());
  } catch {
    // No index yet: nothing to warm.
  }
  const sampleOf = async (req: Request, res: Response, maxPerShard: number) => {
    const g = deps.current();
    // The warm-up waits until the answer is sent, not only drawn: writing 3.5 MB of JSON counts too.
    res.once('close', sampler(g).hold());
    if (!req.is('application/json'))
      throw new AppError(415, 'UNSUPPORTED_MEDIA_TYPE', 'send the request as application/json');
    const resolveSplit = deps.splits
      ? (sel: Parameters<typeof splitSlides>[2]) => splitSlides(deps.splits!, g, sel)
      : undefined;
    const { spec, slides } = parseSampleRequest(req.body, g, deps.maxRegionVertices, resolveSplit);
    // Every scale's imageUrl must work: the /region bound on what one patch reads, per scale and slide.
    if (spec.scales) checkScales(g, slides, spec.scales, deps.maxRegionPixels * SOURCE_FACTOR);
    const shardLength = shardIndices(spec.count, spec.shard, spec.shards, spec.blockSize).length;
    if (spec.start > shardLength)
      throw new AppError(
        422,
        'START_BEYOND_SHARD',
        `start ${spec.start} is beyond the shard, which has ${shardLength} patches`,
      );
    const perShard = Math.min(shardLength - spec.start, spec.limit ?? Infinity);
    if (perShard > maxPerShard) {
      throw new AppError(
        413,
        'SHARD_TOO_LARGE',
        `this shard has ${perShard} patches; one request draws at most ${maxPerShard}: use more shards (shard/shards) or a smaller count`,
      );
    }
    const deadline = Date.now() + deps.requestTimeoutMs;
    return { g, spec, deadline, items: await sampler(g).sample(spec, slides, deadline) };
  };

  r.get('/slides/:slideId/region', async (req, res) => {
    const g = deps.current();
    const s = g.readableSlide(req.params.slideId);
    const region = regionParams(req, deps.maxRegionPixels);
    const layer = enumParam(req, 'layer', 'image', ['image', 'mask', 'tissue'] as const);
    if (layer === 'tissue') g.tissue.require(s, 'layer');
    const format = enumParam<RegionFormat>(req, 'format', layer === 'image' ? 'jpeg' : 'png', [
      'jpeg',
      'png',
      'webp',
      'raw',
      'npy',
    ]);
    const quality = intParam(req, 'quality', 90, 30, 100);
    const etag = `${s.etag}-r${layer === 'image' ? deps.renderer : ''}${region.x}.${region.y}.${region.width}.${region.height}.${region.level ?? ''}.${region.mpp ?? ''}.${layer}.${format}.${quality}`;
    if (notModified(req, res, etag, IMMUTABLE_CACHE)) return;
    const body =
      layer === 'mask'
        ? encodeMaskRegion(maskRegion(g, s, region), region, format)
        : layer === 'tissue'
          ? encodeMaskRegion(tissueRegion(g, s, region), region, format)
          : await imageRegion(g, deps.regions, s, region, format, quality, deps.maxRegionPixels * SOURCE_FACTOR);
    if (format === 'raw' || format === 'npy') {
      res.setHeader(
        'X-Array-Shape',
        layer === 'image' ? `${region.height},${region.width},3` : `${region.height},${region.width}`,
      );
      res.setHeader('X-Array-Dtype', 'uint8');
    }
    sendImage(res, body, CONTENT_TYPES[format]);
  });

  r.post('/samples', json, async (req, res) => {
    const { g, spec, items, deadline } = await sampleOf(req, res, deps.maxSamples);
    const describe = (d: Descriptor) => sampleItem(g, spec, d);
    const body: Schemas['SampleList'] = {
      datasetVersion: g.datasetVersion,
      count: spec.count,
      seed: spec.seed,
      epoch: spec.epoch,
      shard: spec.shard,
      shards: spec.shards,
      classes: spec.classSelectors,
      start: spec.start,
      ...(spec.limit !== null ? { limit: spec.limit } : {}),
      // With scales, each descriptor counts fractions per scale: in slices, between other requests.
      items: spec.scales ? await mapYielding(items, describe, deadline) : items.map(describe),
    };
    res.setHeader('Cache-Control', 'no-store');
    res.json(body);
  });

  r.post('/batches', json, async (req, res) => {
    let sampled;
    try {
      sampled = await sampleOf(req, res, deps.maxBatchSamples);
    } catch (e) {
      // The same limit, named for what a batch client can act on.
      if (e instanceof AppError && e.code === 'SHARD_TOO_LARGE') throw new AppError(413, 'BATCH_TOO_LARGE', e.detail);
      throw e;
    }
    const { g, spec, items } = sampled;
    await streamBatch(res, g, deps.regions, spec, items, (d) => sampleItem(g, spec, d));
  });

  return r;
}

export function sampleItem(g: Generation, spec: SampleSpec, d: Descriptor): Schemas['SampleItem'] {
  const name = (v: number) => tissueSelectorName(v) ?? g.taxonomy.find((c) => c.value === v)?.name ?? String(v);
  const res = spec.level !== null ? `level=${spec.level}` : `mpp=${spec.mpp}`;
  const q = `x=${d.x}&y=${d.y}&width=${spec.size}&height=${spec.size}&${res}`;
  return {
    index: d.index,
    slideId: d.slideId,
    x: d.x,
    y: d.y,
    ...(spec.level !== null ? { level: spec.level } : { mpp: spec.mpp! }),
    width: spec.size,
    height: spec.size,
    sizeL0: d.sizeL0,
    class: name(d.classValue),
    classValue: d.classValue,
    classIndex: spec.classIndex.get(d.classValue)!,
    fractions: Object.fromEntries([...d.fractions].map(([v, f]) => [name(v), f])),
    imageUrl: `/slides/${d.slideId}/region?${q}&format=${spec.format}`,
    maskUrl: `/slides/${d.slideId}/region?${q}&layer=mask`,
    ...(d.distanceUm !== undefined ? { distanceUm: d.distanceUm, distanceErrorUm: d.distanceErrorUm! } : {}),
    ...(spec.scales ? { scales: scaleItems(g, spec, d, name) } : {}),
  };
}

function regionParams(req: Request, maxPixels: number): RegionRequest {
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
