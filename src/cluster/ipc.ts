/**
 * Messages between the primary and its workers over node's cluster IPC channel. Only plain JSON
 * crosses and the kinds are a closed set: a worker asks the primary for what exists once for the
 * whole service (the admin ingest, the aggregated metrics); the primary tells every worker how many
 * workers are up, and asks each for its metrics. Every wait is bounded.
 */
import type { Worker } from 'node:cluster';
import { AppError } from '../errors.js';

export type RequestKind = 'ingest-start' | 'ingest-status' | 'metrics';
const KINDS: readonly RequestKind[] = ['ingest-start', 'ingest-status', 'metrics'];

interface RequestMessage {
  type: 'slides:req';
  id: number;
  kind: RequestKind;
}

interface ResponseMessage {
  type: 'slides:res';
  id: number;
  ok: boolean;
  value?: unknown;
  /** A problem to rethrow in the worker: status, code, detail (never a stack). */
  error?: { status: number; code: string; detail: string };
}

/** What the primary tells every worker whenever the set of workers changes. */
export interface WorkersState {
  configured: number;
  up: number;
  restarts: number;
}
interface WorkersMessage extends WorkersState {
  type: 'slides:workers';
}

interface MetricsRequest {
  type: 'slides:metrics-req';
  id: number;
}
interface MetricsResponse {
  type: 'slides:metrics-res';
  id: number;
  metrics: unknown[];
}

/** The primary answers from memory, except metrics (it asks every worker, each bounded by METRICS_TIMEOUT_MS). */
const REQUEST_TIMEOUT_MS = 10_000;
export const METRICS_TIMEOUT_MS = 3_000;

export interface PrimaryClient {
  request<T>(kind: RequestKind): Promise<T>;
  /** The primary's latest count of workers (null before its first). */
  workers(): WorkersState | null;
  /** What this worker answers when the primary collects metrics: its registry as JSON. */
  serveMetrics(collect: () => Promise<unknown[]>): void;
}

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout };

/** The worker's side; `proc` is the worker's process (process.send exists in a cluster worker). */
export function createPrimaryClient(proc: NodeJS.Process = process): PrimaryClient {
  let next = 0;
  let workers: WorkersState | null = null;
  let collect: (() => Promise<unknown[]>) | null = null;
  const pending = new Map<number, Pending>();
  const send = (m: object) => proc.connected && proc.send?.(m);
  proc.on('message', (m: unknown) => {
    const msg = (m ?? {}) as { type?: unknown; id?: unknown };
    if (msg.type === 'slides:workers') {
      const { configured, up, restarts } = m as WorkersMessage;
      workers = { configured, up, restarts };
    } else if (msg.type === 'slides:metrics-req' && typeof msg.id === 'number' && collect) {
      const id = msg.id;
      void collect().then((metrics) => send({ type: 'slides:metrics-res', id, metrics } satisfies MetricsResponse));
    } else if (msg.type === 'slides:res' && typeof msg.id === 'number') {
      settle(pending, m as ResponseMessage);
    }
  });
  return {
    request<T>(kind: RequestKind): Promise<T> {
      if (!proc.send || !proc.connected)
        return Promise.reject(new AppError(503, 'PRIMARY_GONE', 'the primary process is not reachable'));
      const id = next++;
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new AppError(503, 'PRIMARY_TIMEOUT', `the primary did not answer (${kind}) in time`));
        }, REQUEST_TIMEOUT_MS);
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
        send({ type: 'slides:req', id, kind } satisfies RequestMessage);
      });
    },
    workers: () => workers,
    serveMetrics: (fn) => void (collect = fn),
  };
}

function settle(pending: Map<number, Pending>, res: ResponseMessage): void {
  const p = pending.get(res.id);
  if (!p) return;
  pending.delete(res.id);
  clearTimeout(p.timer);
  if (res.ok) p.resolve(res.value);
  else {
    const e = res.error ?? { status: 503, code: 'PRIMARY_ERROR', detail: 'the primary failed' };
    p.reject(new AppError(e.status, e.code, e.detail));
  }
}

export type RequestHandlers = Record<RequestKind, () => Promise<unknown>>;

/** The primary's side: answers one worker's request message (ignores anything else). */
export function answerWorker(worker: Worker, m: unknown, handlers: RequestHandlers, onBug: (e: unknown) => void): void {
  const msg = (m ?? {}) as Partial<RequestMessage>;
  if (msg.type !== 'slides:req' || typeof msg.id !== 'number' || !KINDS.includes(msg.kind as RequestKind)) return;
  const id = msg.id;
  const reply = (r: Omit<ResponseMessage, 'type' | 'id'>) => {
    if (worker.isConnected()) worker.send({ type: 'slides:res', id, ...r } satisfies ResponseMessage);
  };
  Promise.resolve()
    .then(() => handlers[msg.kind as RequestKind]())
    .then(
      (value) => reply({ ok: true, value }),
      (e: unknown) => {
        // Problems cross as they are; anything else is the primary's bug, logged there, not shown here.
        if (!(e instanceof AppError)) onBug(e);
        const error =
          e instanceof AppError
            ? { status: e.status, code: e.code, detail: e.detail }
            : { status: 500, code: 'PRIMARY_ERROR', detail: 'the primary failed; see its log' };
        reply({ ok: false, error });
      },
    );
}

/** The primary tells every connected worker the current count. */
export function broadcastWorkers(workers: Worker[], state: WorkersState): void {
  for (const w of workers) if (w.isConnected()) w.send({ type: 'slides:workers', ...state } satisfies WorkersMessage);
}

let nextCollect = 0;

/**
 * Asks each worker for its registry as JSON. A worker that does not answer within the timeout
 * (stuck, or dying) is left out of this scrape rather than failing it: `missing` says how many.
 */
export function collectMetrics(workers: Worker[]): Promise<{ metrics: unknown[][]; missing: number }> {
  const id = nextCollect++;
  const live = workers.filter((w) => w.isConnected());
  return new Promise((resolve) => {
    const got = new Map<Worker, unknown[]>();
    const done = () => {
      clearTimeout(timer);
      for (const [w, fn] of listeners) w.off('message', fn);
      resolve({ metrics: [...got.values()], missing: live.length - got.size });
    };
    const timer = setTimeout(done, METRICS_TIMEOUT_MS);
    const listeners = live.map((w) => {
      const fn = (m: unknown) => {
        const res = (m ?? {}) as Partial<MetricsResponse>;
        if (res.type !== 'slides:metrics-res' || res.id !== id || !Array.isArray(res.metrics)) return;
        got.set(w, res.metrics);
        if (got.size === live.length) done();
      };
      w.on('message', fn);
      return [w, fn] as const;
    });
    if (live.length === 0) done();
    for (const w of live) w.send({ type: 'slides:metrics-req', id } satisfies MetricsRequest);
  });
}
