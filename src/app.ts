/**
 * createApp(deps): the Express application with every router, headers, limits and the one error
 * path. It never listens (server.ts does), so tests drive it through supertest without a port.
 */
import express from 'express';
import type { Logger } from 'pino';
import { createAccess, type Access } from './auth/keys.js';
import { loginRoutes } from './auth/routes.js';
import { catalogueRoutes } from './catalogue/routes.js';
import { datasetDir, splitsPathOf, type Config } from './config.js';
import type { IndexHandle } from './db/handle.js';
import { docsRoutes } from './docs/routes.js';
import type { Generation } from './generation.js';
import { commonHeaders } from './http/common-headers.js';
import { createLimiter, timeBudget, type Limiter } from './http/limits.js';
import { parseQueryOnce } from './http/params.js';
import { requestLog, requestLogger } from './http/request-log.js';
import { notFound, problemHandler } from './http/problem.js';
import { exactRouting } from './http/router.js';
import type { Schemas } from './http/types.js';
import type { IngestReport } from './indexer/ingest.js';
import { nativeJpegStatus } from './imaging/jpeg-native.js';
import { iiifRoutes } from './iiif/routes.js';
import { createIiifService } from './iiif/service.js';
import { miradorRoutes } from './iiif/mirador.js';
import { createMetrics, type Metrics } from './metrics/metrics.js';
import { createIngestControl, metricHooks, type IngestControl } from './ops/ingest-control.js';
import { indexSummary, opsRoutes, type ClusterView, type Lifecycle } from './ops/routes.js';
import { patchRoutes } from './patches/routes.js';
import { createRegionPlanner } from './patches/region-plan.js';
import { hotAnswer, type FastAnswer } from './fastpath/answer.js';
import { regionRoute } from './fastpath/region.js';
import { imageTileRoute, maskTileRoute } from './fastpath/tiles.js';
import { installFastPaths } from './fastpath/install.js';
import { createImageTilePlanner, createMaskTilePlanner, tileRoutes } from './tiles/routes.js';
import { createTileService, type TileService } from './tiles/service.js';
import { createSlidePool, type CacheName, type SlidePool } from './slides/pool.js';
import { storeMetrics } from './storage/metrics.js';
import { openRemote } from './storage/open.js';
import { loadManifestFrom } from './dataset/manifest.js';
import { thumbnailFromTiles } from './storage/thumbnail.js';
import { createRegionRenderer, type RegionRenderer } from './slides/region.js';
import { splitRoutes } from './splits/routes.js';
import { gridRoutes } from './grid/routes.js';
import { createSplitStore } from './splits/store.js';
import { viewerRoutes } from './viewer/routes.js';

export interface AppDeps {
  config: Config;
  index: IndexHandle<Generation>;
  log: Logger;
  /** What libvips can do; the native decoder's state is added here, from the config. */
  imaging: Omit<Schemas['Health']['imaging'], 'nativeJpeg'>;
  lifecycle?: Lifecycle;
  ingest?: () => Promise<IngestReport>;
  /** With WORKERS > 1: the admin ingest and the whole service's state, both held by the primary. */
  ingestControl?: IngestControl;
  cluster?: ClusterView;
  /** false: every request walks the express chain (tests compare the two); default true (src/fastpath/). */
  fastPaths?: boolean;
}

export interface AppServices {
  tiles: TileService;
  pool: SlidePool;
  limiter: Limiter;
  metrics: Metrics;
  lifecycle: Lifecycle;
}

export function createApp(deps: AppDeps): express.Express & { services: AppServices } {
  const { config } = deps;
  const app = express();
  exactRouting(app);
  app.disable('x-powered-by');
  app.set('etag', false); // ETags are ours: derived from the index, checked before rendering
  app.set('query parser', 'simple');
  const lifecycle = deps.lifecycle ?? { draining: false };
  const native = nativeJpegStatus();
  const imaging = { ...deps.imaging, nativeJpeg: { ...native, enabled: config.nativeJpeg && native.available } };
  // Built in dependency order: metrics, the render limiter, open slides, regions, tiles.
  const metrics = createMetrics({ index: () => indexSummary(deps.index), caches: () => cacheBytes() });
  const countLookup = (cache: CacheName, hit: boolean) => metrics.cache.inc({ cache, result: hit ? 'hit' : 'miss' });
  const limiter = createLimiter(config.maxConcurrentRenders, config.maxQueuedRenders, {
    onStart: () => metrics.rendersInFlight.inc(),
    onEnd: () => metrics.rendersInFlight.dec(),
    onReject: () => metrics.rejected.inc(),
  });
  const remote = openRemote(datasetDir(config), config.remote, storeMetrics(metrics.registry));
  const pool = createSlidePool({
    remote,
    slideHandles: config.slideHandles,
    decodedTileCacheBytes: config.decodedTileCacheBytes,
    coarseTileCacheBytes: config.coarseTileCacheBytes,
    nativeJpeg: imaging.nativeJpeg.enabled,
    onCacheLookup: countLookup,
    onNativeFallback: (reason) => {
      metrics.nativeFallbacks.inc();
      deps.log.warn({ reason }, 'native JPEG decoder could not read a region; libvips decoded it');
    },
  });
  const regions = createRegionRenderer(pool, limiter);
  const tiles = createTileService({ pool, regions, tileCacheBytes: config.tileCacheBytes, onCacheLookup: countLookup });
  /** Read at scrape time, once everything above exists. */
  function cacheBytes() {
    const { decodedBytes, coarseBytes } = pool.stats();
    return { rendered_tiles: tiles.stats().renderedBytes, decoded_tiles: decodedBytes, coarse_tiles: coarseBytes };
  }
  const keys = { keys: config.apiKeys, adminKeys: config.adminApiKeys, revokedKeys: config.revokedApiKeys };
  const access = createAccess(keys);
  // Before express: /region and DeepZoom tiles answered with direct calls, as the chain below answers them.
  if (deps.fastPaths !== false)
    installFastPaths(app, hotPaths(deps, { regions, tiles, renderer: pool.renderer, access, metrics }));
  app.use(requestLog(deps.log));
  app.use(parseQueryOnce);
  app.use(metrics.middleware);
  app.use(commonHeaders(config.corsOrigin));
  app.use(timeBudget(config.requestTimeoutMs));
  const current = () => deps.index.current();

  // Open by where they are mounted: before the key check (the admin routes carry requireAdmin).
  const { requireAdmin } = access;
  const ingest = deps.ingestControl ?? (deps.ingest && createIngestControl(deps.ingest, metricHooks(metrics)));
  app.use(opsRoutes({ index: deps.index, imaging, metrics, lifecycle, ingest, cluster: deps.cluster, requireAdmin }));
  app.use(docsRoutes());
  app.use(loginRoutes(keys));
  app.use(access.requireKey);
  app.use(
    catalogueRoutes({
      current,
      thumbnailMaxSize: config.thumbnailMaxSize,
      limiter,
      ...(remote ? { renderFromTiles: thumbnailFromTiles(regions) } : {}),
    }),
  );
  app.use(tileRoutes({ current, tiles, renderer: pool.renderer }));
  const splits = createSplitStore(splitsPathOf(config));
  app.use(
    splitRoutes({
      current,
      store: splits,
      dataDir: datasetDir(config),
      ...(remote ? { manifest: () => loadManifestFrom(remote.store) } : {}),
      maxBodyBytes: config.maxBodyBytes,
    }),
  );
  app.use(gridRoutes({ current }));
  app.use(
    patchRoutes({
      current,
      regions,
      splits,
      renderer: pool.renderer,
      limiter,
      maxRegionPixels: config.maxRegionPixels,
      maxBodyBytes: config.maxBodyBytes,
      maxBatchSamples: config.maxBatchSamples,
      maxSamples: config.maxSamples,
      maxRegionVertices: config.maxRegionVertices,
      nearMaxCells: config.nearMaxCells,
      nearCacheBytes: config.nearCacheBytes,
      requestTimeoutMs: config.requestTimeoutMs,
    }),
  );
  app.use(viewerRoutes({ current }));
  // IIIF reads at most 4x maxArea stored pixels (one pyramid step finer than the output, as /region allows).
  const iiif = createIiifService({ pool, regions, maxSourcePixels: 4 * config.maxRegionPixels });
  app.use(iiifRoutes({ current, iiif, maxArea: config.maxRegionPixels, renderer: pool.renderer }));
  app.use(miradorRoutes({ current }));
  app.use(notFound);
  app.use(problemHandler(deps.log));
  return Object.assign(app, { services: { tiles, pool, limiter, metrics, lifecycle } });
}

/** The hot paths (src/fastpath/): /region and DeepZoom image and mask tiles, built from the same parts as the chain. */
function hotPaths(
  deps: AppDeps,
  parts: { regions: RegionRenderer; tiles: TileService; renderer: string; access: Access; metrics: Metrics },
): FastAnswer[] {
  const { config } = deps;
  const current = () => deps.index.current();
  const hot = {
    access: parts.access,
    beginLog: requestLogger(deps.log),
    metrics: parts.metrics,
    corsOrigin: config.corsOrigin,
    requestTimeoutMs: config.requestTimeoutMs,
  };
  const { regions, renderer } = parts;
  return [
    hotAnswer(
      hot,
      regionRoute(createRegionPlanner({ current, regions, renderer, maxRegionPixels: config.maxRegionPixels })),
    ),
    hotAnswer(hot, imageTileRoute(createImageTilePlanner({ current, tiles: parts.tiles, renderer }))),
    hotAnswer(hot, maskTileRoute(createMaskTilePlanner({ current, tiles: parts.tiles, renderer }))),
  ];
}
