/**
 * Entry of the worker thread that runs an ingest (or the demo generation) for the service, so
 * scanning, decoding and rasterising never hold the event loop that answers requests. It posts
 * progress events, then one result or one error, and ends. Started by ./worker.ts only.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { AppError } from '../errors.js';
import { ingest } from './ingest.js';
import type { WorkerJob, WorkerMessage } from './worker.js';

const post = (m: WorkerMessage) => parentPort!.postMessage(m);

async function run(job: WorkerJob): Promise<void> {
  if (job.kind === 'demo') {
    const { generateDemo } = await import('../demo/generate.js');
    await generateDemo({
      outDir: job.outDir,
      seed: job.seed,
      onProgress: (p) => post({ type: 'progress', step: p.step, done: p.done, total: p.total }),
    });
    post({ type: 'done', report: null });
    return;
  }
  const report = await ingest({
    dataDir: job.dataDir,
    indexPath: job.indexPath,
    maxSlidePixels: job.maxSlidePixels,
    maxRasterWork: job.maxRasterWork,
    ...(job.remote ? { remote: job.remote } : {}),
    onEvent: (e) =>
      post({
        type: 'progress',
        step: e.phase === 'slide' ? `slide ${e.slideId ?? 'done'}` : e.phase,
        done: e.done,
        total: e.total,
      }),
  });
  post({ type: 'done', report });
}

run(workerData as WorkerJob).catch((e: unknown) => {
  post(
    e instanceof AppError
      ? { type: 'error', status: e.status, code: e.code, detail: e.detail }
      : { type: 'error', status: 500, code: null, detail: (e as Error)?.message ?? String(e) },
  );
});
