/**
 * Operations endpoints: liveness (/healthz), readiness (/readyz: false while there is no index
 * or while the process drains), Prometheus metrics, and the admin re-ingest. Mounted before the
 * key check: the first three are open, the admin routes carry their own check.
 */
import type { RequestHandler, Router } from 'express';
import { createRouter } from '../http/router.js';
import type { IndexHandle } from '../db/handle.js';
import { AppError } from '../errors.js';
import type { Generation } from '../generation.js';
import type { Schemas } from '../http/types.js';
import type { Metrics } from '../metrics/metrics.js';
import type { IngestControl, IngestStatus } from './ingest-control.js';

export interface Lifecycle {
  draining: boolean;
}

/** What a worker knows of the whole service (src/cluster/worker.ts). */
export interface ClusterView {
  /** The primary's latest count: workers configured, up (listening) and restarted so far. */
  workers(): { configured: number; up: number; restarts: number };
  /** The metrics of every worker and of the primary, aggregated. */
  metrics(): Promise<{ contentType: string; body: string }>;
}

export interface OpsDeps {
  index: IndexHandle<Generation>;
  imaging: Schemas['Health']['imaging'];
  metrics: Metrics;
  lifecycle: Lifecycle;
  /** The admin re-ingest of the configured data directory; absent = no admin ingest. */
  ingest?: IngestControl;
  /** With WORKERS > 1: the whole service's workers and metrics, from the primary. */
  cluster?: ClusterView;
  /** The admin check, a handler of each admin route (this router is mounted before the key check). */
  requireAdmin: RequestHandler;
}

/** Whether an index serves, how many slides it has and its version: for health and for metrics. */
export function indexSummary(index: IndexHandle<Generation>): {
  ready: boolean;
  slides: number;
  datasetVersion: string | null;
  reason: string | null;
} {
  const st = index.status();
  const g = st.ready ? index.current() : null;
  return {
    ready: st.ready,
    slides: g ? g.catalogue.slideCount() : 0,
    datasetVersion: g ? g.datasetVersion : null,
    reason: st.reason,
  };
}

const IDLE: IngestStatus = { state: 'idle', startedAt: null, error: null, report: null };

export function opsRoutes(deps: OpsDeps): Router {
  const r = createRouter();
  const indexState = () => indexSummary(deps.index);
  r.get('/healthz', (_req, res) => {
    const { reason, ...index } = indexState();
    const body: Schemas['Health'] = {
      status: 'ok',
      index: { ...index, ...(reason ? { reason } : {}) },
      imaging: deps.imaging,
      workers: { ...(deps.cluster?.workers() ?? { configured: 1, up: 1, restarts: 0 }), pid: process.pid },
    };
    res.setHeader('Cache-Control', 'no-store');
    res.json(body);
  });
  r.get('/readyz', (_req, res) => {
    const st = indexState();
    const ready = st.ready && !deps.lifecycle.draining;
    res.setHeader('Cache-Control', 'no-store');
    res.status(ready ? 200 : 503).json({ ready, draining: deps.lifecycle.draining, index: st.ready });
  });
  r.get('/metrics', async (_req, res) => {
    const { contentType, body } = deps.cluster
      ? await deps.cluster.metrics()
      : { contentType: deps.metrics.registry.contentType, body: await deps.metrics.registry.metrics() };
    res.setHeader('Cache-Control', 'no-store');
    res.type(contentType).send(body);
  });

  const noIngest = () => new AppError(404, 'ROUTE_NOT_FOUND', 'this service was started without an ingest');
  r.post('/admin/ingest', deps.requireAdmin, async (_req, res) => {
    if (!deps.ingest) throw noIngest();
    res.status(202).json(await deps.ingest.start());
  });
  r.get('/admin/ingest', deps.requireAdmin, async (_req, res) => {
    const body = deps.ingest ? await deps.ingest.status() : IDLE;
    res.setHeader('Cache-Control', 'no-store');
    res.json(body);
  });
  return r;
}
