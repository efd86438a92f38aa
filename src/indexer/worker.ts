/**
 * Runs the service's ingest (start-up and POST /admin/ingest) and its demo generation in a worker
 * thread (./ingest-worker.ts): the main thread keeps answering requests, /healthz included, while
 * slides are decoded and rasterised. One job at a time per process: the ingest lock names the
 * process, so two threads of one process must not both hold it.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { AppError } from '../errors.js';
import type { IngestReport } from './ingest.js';
import type { RemoteSettings } from '../storage/open.js';

export type IngestJob = {
  dataDir: string;
  indexPath: string;
  maxSlidePixels?: number;
  maxRasterWork?: number;
  /** S3 or HTTP(S) settings of a remote dataDir (storage/open.ts). */
  remote?: RemoteSettings;
};
export type WorkerJob = ({ kind: 'ingest' } & IngestJob) | { kind: 'demo'; outDir: string; seed: number };

export type WorkerMessage =
  | { type: 'progress'; step: string; done: number; total: number }
  | { type: 'done'; report: IngestReport | null }
  | { type: 'error'; status: number; code: string | null; detail: string };

export type Progress = (step: string, done: number, total: number) => void;

let running = false;

/** Whether a job runs in this process now. */
export function workerBusy(): boolean {
  return running;
}

/** The incremental ingest, off the main thread. Throws INGEST_RUNNING at once while another job runs. */
export function ingestInWorker(opts: IngestJob, onProgress?: Progress): Promise<IngestReport> {
  return start({ kind: 'ingest', ...opts }, onProgress).then((r) => r!);
}

/** The demo dataset generation, off the main thread. */
export function demoInWorker(opts: { outDir: string; seed: number }, onProgress?: Progress): Promise<void> {
  return start({ kind: 'demo', ...opts }, onProgress).then(() => undefined);
}

function start(job: WorkerJob, onProgress?: Progress): Promise<IngestReport | null> {
  if (running) throw new AppError(409, 'INGEST_RUNNING', 'an ingest is already running in this service');
  running = true;
  return new Promise<IngestReport | null>((resolve, reject) => {
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      running = false;
      fn();
    };
    const worker = newWorker(job);
    worker.on('message', (m: WorkerMessage) => {
      if (m.type === 'progress') onProgress?.(m.step, m.done, m.total);
      else if (m.type === 'done') settle(() => resolve(m.report));
      else settle(() => reject(m.code ? new AppError(m.status, m.code, m.detail) : new Error(m.detail)));
    });
    worker.on('error', (e) => settle(() => reject(e)));
    worker.on('exit', (code) =>
      settle(() => reject(new Error(`the ingest worker exited (code ${code}) without a result`))),
    );
  });
}

/**
 * The compiled entry next to this module; when the service runs from src/ (tsx, vitest), the
 * TypeScript one behind tsx's loader, registered inside the worker (Node 20 does not apply an
 * `--import` given in a worker's execArgv).
 */
function newWorker(job: WorkerJob): Worker {
  const fromSource = import.meta.url.endsWith('.ts');
  const entry = new URL(fromSource ? './ingest-worker.ts' : './ingest-worker.js', import.meta.url);
  if (!fromSource) return new Worker(entry, { workerData: job });
  const boot = `import(${JSON.stringify(tsxApiUrl())}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); })`;
  return new Worker(boot, { eval: true, workerData: job });
}

/** tsx's ESM API (a dev dependency: only needed when running from src/), as its package exports it. */
function tsxApiUrl(): string {
  const require = createRequire(import.meta.url);
  const pkgPath = require.resolve('tsx/package.json');
  const pkg = require(pkgPath) as { exports: Record<string, { import: { default: string } }> };
  return pathToFileURL(join(dirname(pkgPath), pkg.exports['./esm/api']!.import.default)).href;
}
