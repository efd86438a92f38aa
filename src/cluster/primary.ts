/**
 * The primary process when WORKERS > 1. It serves no requests itself: it forks the workers (they
 * share the listening port through node's cluster), restarts one that dies (after a growing delay,
 * logged and counted), holds what must exist once for the whole service (the ingest and its state,
 * the aggregated metrics) and answers the workers' questions about them, and on SIGTERM drains
 * every worker as a single process drains (each runs the same stop: readiness off, requests in
 * flight finish), with no restart meanwhile.
 */
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { createIngestControl, metricHooks } from '../ops/ingest-control.js';
import type { IngestReport } from '../indexer/ingest.js';
import { answerWorker, broadcastWorkers, collectMetrics, type RequestHandlers, type WorkersState } from './ipc.js';
import { createPrimaryMetrics } from './metrics.js';
import { nextDeaths, restartDelay } from './sizing.js';

export interface PrimaryOptions {
  workers: number;
  log: Logger;
  /** Extra environment of every worker (its thread-pool size). */
  env: Record<string, string>;
  /** An incremental ingest of the configured data directory, run here (in the ingest thread). */
  ingest: () => Promise<IngestReport>;
  /** How long a stop waits for the workers' own drain before it kills them. */
  stopTimeoutMs: number;
}

export interface Primary {
  /** Settles once a first worker listens; rejects when workers die before any listened (bad port, bad build). */
  listening: Promise<void>;
  /** Drains and stops every worker; resolves true when all exited by themselves, false when some were killed. */
  stop(): Promise<boolean>;
  state(): WorkersState;
}

export function startPrimary(opts: PrimaryOptions): Primary {
  const { log } = opts;
  const metrics = createPrimaryMetrics(opts.workers);
  const ingest = createIngestControl(opts.ingest, metricHooks(metrics));
  const handlers: RequestHandlers = {
    'ingest-start': () => ingest.start(),
    'ingest-status': () => ingest.status(),
    metrics: async () => {
      const { metrics: got, missing } = await collectMetrics(alive());
      return metrics.aggregate(got, missing);
    },
  };
  const listeningSince = new Map<number, number>();
  let deathsInARow = 0;
  let restarts = 0;
  let stopping = false;
  let everListened = false;
  let onAllExited: (() => void) | null = null;
  let listened!: () => void;
  let failed!: (e: Error) => void;
  const listening = new Promise<void>((resolve, reject) => ((listened = resolve), (failed = reject)));

  // A worker is dead as soon as its process exited, which may be before cluster forgets it.
  const alive = () => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && !w.isDead());
  const state = (): WorkersState => ({ configured: opts.workers, up: listeningSince.size, restarts });
  const broadcast = () => {
    metrics.up.set(listeningSince.size);
    broadcastWorkers(alive(), state());
  };
  const fork = () => {
    const w = cluster.fork(opts.env);
    w.on('message', (m: unknown) =>
      answerWorker(w, m, handlers, (e) => log.error({ err: e }, 'the primary failed to answer a worker')),
    );
    w.on('listening', () => {
      listeningSince.set(w.id, Date.now());
      everListened = true;
      listened();
      broadcast();
    });
  };

  cluster.on('exit', (w: Worker, code: number | null, signal: string | null) => {
    const since = listeningSince.get(w.id);
    listeningSince.delete(w.id);
    if (stopping) {
      if (alive().length === 0) onAllExited?.();
      return;
    }
    if (!everListened) {
      failed(new Error(`a worker exited (${signal ?? `code ${code}`}) before the service listened; see its output`));
      return;
    }
    deathsInARow = nextDeaths(deathsInARow, since === undefined ? null : Date.now() - since);
    const delay = restartDelay(deathsInARow);
    restarts++;
    metrics.restarts.inc();
    log.warn({ worker: w.process.pid, code, signal, restartInMs: delay }, 'a worker died: restarting it');
    broadcast();
    setTimeout(() => !stopping && fork(), delay);
  });

  for (let i = 0; i < opts.workers; i++) fork();
  log.info({ workers: opts.workers, env: opts.env }, `primary ${process.pid}: starting ${opts.workers} workers`);
  return { listening, state, stop: () => stopAll(alive(), opts, (fn) => ((stopping = true), (onAllExited = fn))) };
}

/** SIGTERM to every worker (each drains itself); SIGKILL to any still there after the timeout. */
function stopAll(workers: Worker[], opts: PrimaryOptions, onExited: (fn: () => void) => void): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const kill = setTimeout(() => {
      opts.log.warn('workers did not drain in time: killing them');
      for (const w of Object.values(cluster.workers ?? {})) if (w && !w.isDead()) w.process.kill('SIGKILL');
      resolve(false);
    }, opts.stopTimeoutMs);
    onExited(() => {
      clearTimeout(kill);
      resolve(true);
    });
    if (workers.length === 0) {
      clearTimeout(kill);
      resolve(true);
    }
    for (const w of workers) w.process.kill('SIGTERM');
  });
}
