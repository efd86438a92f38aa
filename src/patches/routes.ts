/**
 * Training-patch endpoints (HTTP only): GET /slides/{id}/region, POST /samples, POST /batches.
 */
import express, { type Router, type Request, type Response } from 'express';
import { createRouter } from '../http/router.js';
import { AppError } from '../errors.js';
import type { Generation } from '../generation.js';
import { IMMUTABLE_CACHE, notModified, sendImage } from '../http/cache.js';
import type { Limiter } from '../http/limits.js';
import type { Schemas } from '../http/types.js';
import type { RegionRenderer } from '../slides/region.js';
import { tissueSelectorName } from '../tissue/selectors.js';
import { createSampler, type Descriptor } from './sampler.js';
import { parseSampleRequest, type SampleSpec } from './spec.js';
import { shardIndices } from './epoch.js';
import { splitSlides } from '../splits/build.js';
import type { SplitStore } from '../splits/store.js';
import { mapYielding, scaleItems } from './scales/items.js';
import { streamBatch } from './batch/stream.js';
import { createRegionPlanner, SOURCE_FACTOR } from './region-plan.js';
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

  const planRegion = createRegionPlanner(deps);
  r.get('/slides/:slideId/region', async (req, res) => {
    const plan = planRegion(req.params.slideId, req);
    if (notModified(req, res, plan.etag, IMMUTABLE_CACHE)) return;
    const body = await plan.body();
    if (plan.arrayShape !== null) {
      res.setHeader('X-Array-Shape', plan.arrayShape);
      res.setHeader('X-Array-Dtype', 'uint8');
    }
    sendImage(res, body, plan.contentType);
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
