/**
 * Prometheus metrics (prom-client) in one registry per app: request counts and latency per route
 * template (never per raw URL: bounded label sets), bytes served, renders in flight, cache hit
 * ratios, and the state of the index. With WORKERS > 1 the primary adds up every worker's registry
 * (src/cluster/metrics.ts): each metric says how (`aggregator`; counters, histograms and byte
 * gauges are summed, which is prom-client's default).
 */
import type { ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  registry: Registry;
  middleware: RequestHandler;
  /** What the middleware does for one request, for the hot-path dispatcher (src/fastpath/), which knows its route. */
  track(method: string, res: ServerResponse, routeOf: () => string): void;
  rendersInFlight: Gauge;
  rejected: Counter;
  cache: Counter;
  nativeFallbacks: Counter;
  ingestRunning: Gauge;
  ingestRuns: Counter;
}

export interface MetricsSources {
  /** Called at scrape time: slides in the index and whether it is ready. */
  index(): { ready: boolean; slides: number; datasetVersion: string | null };
  caches(): Record<string, number>;
}

export function createMetrics(sources: MetricsSources): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const requests = new Counter({
    name: 'http_requests_total',
    help: 'Requests answered',
    labelNames: ['method', 'route', 'status'],
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time to the last byte, by route',
    labelNames: ['method', 'route'],
    // Tiles are served in ~1 ms from caches and ~5-30 ms rendered; batches take seconds.
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60],
    registers: [registry],
  });
  const bytes = new Counter({
    name: 'http_response_bytes_total',
    help: 'Body bytes sent',
    labelNames: ['route'],
    registers: [registry],
  });
  const rendersInFlight = new Gauge({
    name: 'renders_in_flight',
    help: 'Pixel renders running now',
    registers: [registry],
  });
  const rejected = new Counter({
    name: 'renders_rejected_total',
    help: 'Renders refused with 503 because too many were running or queued',
    registers: [registry],
  });
  const { ingestRunning, ingestRuns } = ingestMetrics(registry);
  const nativeFallbacks = new Counter({
    name: 'native_decode_fallbacks_total',
    help: 'Regions the native JPEG decoder could not read, decoded by libvips instead',
    registers: [registry],
  });
  const cache = new Counter({
    name: 'cache_lookups_total',
    help: 'Cache lookups by cache and result (hit, miss)',
    labelNames: ['cache', 'result'],
    registers: [registry],
  });
  new Gauge({
    name: 'index_slides',
    help: 'Slides in the published index (0 while there is none)',
    registers: [registry],
    // Workers switch to a new index within a second of each other; the newest count is the largest.
    aggregator: 'max',
    collect() {
      this.set(sources.index().slides);
    },
  });
  new Gauge({
    name: 'index_ready',
    help: '1 when an index is open and serving',
    labelNames: ['dataset_version'],
    registers: [registry],
    // The service is ready only where every worker is.
    aggregator: 'min',
    collect() {
      const st = sources.index();
      this.reset();
      this.set({ dataset_version: st.datasetVersion ?? 'none' }, st.ready ? 1 : 0);
    },
  });
  new Gauge({
    name: 'cache_bytes',
    help: 'Bytes held by each cache',
    labelNames: ['cache'],
    registers: [registry],
    collect() {
      for (const [name, v] of Object.entries(sources.caches())) this.set({ cache: name }, v);
    },
  });
  /** Counts the request when its answer is sent, under the route template `routeOf` names then. */
  const track = (method: string, res: ServerResponse, routeOf: () => string) => {
    const start = process.hrtime.bigint();
    res.on('finish', () => {
      const route = routeOf();
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      requests.inc({ method, route, status: String(res.statusCode) });
      latency.observe({ method, route }, seconds);
      const len = Number(res.getHeader('Content-Length') ?? 0);
      if (len > 0) bytes.inc({ route }, len);
    });
  };
  const middleware: RequestHandler = (req, res, next) => {
    // The matched route template, e.g. /slides/:slideId/image_files/:level/:tile; unmatched = "none".
    track(req.method, res, () => (req.route ? `${req.baseUrl}${String(req.route.path)}` : 'none'));
    next();
  };
  return { registry, middleware, track, rendersInFlight, rejected, cache, nativeFallbacks, ingestRunning, ingestRuns };
}

/**
 * The ingest's metrics: in an app's registry, and in the primary's own when WORKERS > 1 (the ingest
 * runs there); the same names, so the aggregation merges them.
 */
export function ingestMetrics(registry: Registry): { ingestRunning: Gauge; ingestRuns: Counter } {
  const ingestRunning = new Gauge({
    name: 'ingest_running',
    help: '1 while a re-ingest started through /admin/ingest runs',
    registers: [registry],
    // Only the process that runs the ingest says 1.
    aggregator: 'max',
  });
  const ingestRuns = new Counter({
    name: 'ingest_runs_total',
    help: 'Re-ingests started through /admin/ingest, by how they ended (done, failed)',
    labelNames: ['result'],
    registers: [registry],
  });
  return { ingestRunning, ingestRuns };
}
