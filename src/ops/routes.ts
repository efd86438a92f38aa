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
import type { IngestReport } from '../indexer/ingest.js';
import type { Metrics } from '../metrics/metrics.js';

export interface Lifecycle {
  draining: boolean;
}

export interface OpsDeps {
  index: IndexHandle<Generation>;
  imaging: Schemas['Health']['imaging'];
  metrics: Metrics;
  lifecycle: Lifecycle;
  /** Runs an incremental ingest of the configured data directory; absent = no admin ingest. */
  ingest?: () => Promise<IngestReport>;
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

type IngestState = {
  state: 'idle' | 'running' | 'done' | 'failed';
  startedAt?: string;
  report?: IngestReport;
  error?: string;
};

export function opsRoutes(deps: OpsDeps): Router {
  const r = createRouter();
  const indexState = () => indexSummary(deps.index);
  r.get('/healthz', (_req, res) => {
    const { reason, ...index } = indexState();
    const body: Schemas['Health'] = {
      status: 'ok',
      index: { ...index, ...(reason ? { reason } : {}) },
      imaging: deps.imaging,
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
    res.setHeader('Cache-Control', 'no-store');
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });

  let ingest: IngestState = { state: 'idle' };
  r.post('/admin/ingest', deps.requireAdmin, (_req, res) => {
    if (!deps.ingest) throw new AppError(404, 'ROUTE_NOT_FOUND', 'this service was started without an ingest');
    if (ingest.state === 'running') throw new AppError(409, 'INGEST_RUNNING', 'an ingest is already running');
    // Called first: it refuses at once (409) while another ingest of this process runs, e.g. the start-up one.
    const job = deps.ingest();
    ingest = { state: 'running', startedAt: new Date().toISOString() };
    deps.metrics.ingestRunning.set(1);
    job
      .then(
        (report) => (ingest = { ...ingest, state: 'done', report }),
        (e: unknown) =>
          (ingest = {
            ...ingest,
            state: 'failed',
            error: e instanceof AppError ? `${e.code}: ${e.detail}` : 'the ingest failed; see the service log',
          }),
      )
      .finally(() => deps.metrics.ingestRunning.set(0));
    res.status(202).json(ingestBody(ingest));
  });
  r.get('/admin/ingest', deps.requireAdmin, (_req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.json(ingestBody(ingest));
  });
  return r;
}

/** The report without file paths beyond the data directory's relative names. */
function ingestBody(s: IngestState): Schemas['IngestStatus'] {
  return {
    state: s.state,
    startedAt: s.startedAt ?? null,
    error: s.error ?? null,
    report: s.report
      ? {
          published: s.report.published,
          datasetVersion: s.report.datasetVersion,
          indexed: s.report.indexed,
          unchanged: s.report.unchanged.length,
          removed: s.report.removed,
          problems: s.report.problems.map((p) => ({
            file: p.relPath.split('/').pop() ?? p.relPath,
            slideId: p.slideId,
            code: p.code,
            detail: p.detail,
          })),
          seconds: Math.round(s.report.ms) / 1000,
        }
      : null,
  };
}
