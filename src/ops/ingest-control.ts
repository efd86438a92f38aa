/**
 * The admin re-ingest's state: one at a time, started and watched through /admin/ingest. It lives
 * where the ingest runs: in the service's process, or with WORKERS > 1 in the primary, which every
 * worker asks over IPC (src/cluster/ipc.ts), so the ingest runs once and any worker reports it.
 */
import type { Counter, Gauge } from 'prom-client';
import { AppError } from '../errors.js';
import type { Schemas } from '../http/types.js';
import type { IngestReport } from '../indexer/ingest.js';

export type IngestStatus = Schemas['IngestStatus'];

/** What /admin/ingest drives; async so a worker can answer it from the primary. */
export interface IngestControl {
  /** Starts a re-ingest; a 409 problem while one runs. Resolves with the state right after the start. */
  start(): Promise<IngestStatus>;
  status(): Promise<IngestStatus>;
}

export interface IngestHooks {
  running(on: boolean): void;
  ended(result: 'done' | 'failed'): void;
}

/** The hooks that keep the ingest's metrics (src/metrics/metrics.ts ingestMetrics). */
export function metricHooks(m: { ingestRunning: Gauge; ingestRuns: Counter }): IngestHooks {
  return { running: (on) => m.ingestRunning.set(on ? 1 : 0), ended: (result) => m.ingestRuns.inc({ result }) };
}

type IngestState = {
  state: 'idle' | 'running' | 'done' | 'failed';
  startedAt?: string;
  report?: IngestReport;
  error?: string;
};

/** The control over `run`, an incremental ingest of the configured data directory. */
export function createIngestControl(run: () => Promise<IngestReport>, hooks: IngestHooks): IngestControl {
  let ingest: IngestState = { state: 'idle' };
  return {
    async start() {
      if (ingest.state === 'running') throw new AppError(409, 'INGEST_RUNNING', 'an ingest is already running');
      // Called first: it refuses at once (409) while another ingest of this process runs, e.g. the start-up one.
      const job = run();
      ingest = { state: 'running', startedAt: new Date().toISOString() };
      hooks.running(true);
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
        .finally(() => {
          hooks.running(false);
          hooks.ended(ingest.state === 'done' ? 'done' : 'failed');
        });
      return ingestBody(ingest);
    },
    status: async () => ingestBody(ingest),
  };
}

/** The report without file paths beyond the data directory's relative names. */
function ingestBody(s: IngestState): IngestStatus {
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
