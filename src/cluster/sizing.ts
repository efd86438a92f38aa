/**
 * How one machine's cores and the service's memory budgets are shared between worker processes (pure).
 *
 * Each worker has one JavaScript thread and a libuv thread pool, where the native JPEG decoder,
 * sharp's pipelines and file reads run. Decoding is CPU-bound: a pool much larger than the
 * worker's share of the cores only adds contention, one much smaller leaves cores idle while a
 * thread waits on a cold read. The rule: a worker's pool is its share of the cores rounded up,
 * plus one thread that may be waiting on a read, and at least 2 (a decode never queues behind a
 * single read). Each pool thread runs its own sharp pipeline, so libvips gets 1 thread per
 * pipeline: more would multiply the pool by libvips' threads and oversubscribe the machine.
 * With one worker nothing changes: Node's 4 pool threads and sharp's own default, as before.
 */

export interface WorkerSizing {
  /** UV_THREADPOOL_SIZE of each worker, or null to keep Node's default. */
  threadPool: number | null;
  /** sharp.concurrency() of each worker, or null to keep sharp's default. */
  sharpConcurrency: number | null;
  /** The share of each whole-service byte budget (caches) one worker gets. */
  budgetShare: number;
}

/** libuv refuses pools larger than this. */
const UV_MAX_THREADS = 1024;

export function workerSizing(cores: number, workers: number): WorkerSizing {
  if (!Number.isInteger(cores) || cores < 1 || !Number.isInteger(workers) || workers < 1) {
    throw new RangeError(`cores and workers must be positive integers (got ${cores}, ${workers})`);
  }
  if (workers === 1) return { threadPool: null, sharpConcurrency: null, budgetShare: 1 };
  return {
    threadPool: Math.min(UV_MAX_THREADS, Math.max(2, Math.ceil(cores / workers) + 1)),
    sharpConcurrency: 1,
    budgetShare: 1 / workers,
  };
}

/** A whole-service byte budget cut for one worker (whole bytes; 0 stays 0, i.e. off). */
export function splitBudget(bytes: number, sizing: WorkerSizing): number {
  return Math.floor(bytes * sizing.budgetShare);
}

/**
 * The environment a worker is forked with: its thread-pool size, unless the operator set
 * UV_THREADPOOL_SIZE (libuv reads it once, when the pool first starts: it must be there at exec).
 */
export function workerEnv(env: NodeJS.ProcessEnv, sizing: WorkerSizing): Record<string, string> {
  if (sizing.threadPool === null || (env.UV_THREADPOOL_SIZE ?? '') !== '') return {};
  return { UV_THREADPOOL_SIZE: String(sizing.threadPool) };
}

/** The first restart waits this long; each further death in a row doubles it, up to the ceiling. */
export const RESTART_FIRST_MS = 100;
export const RESTART_MAX_MS = 10_000;
/** A worker that stayed up this long was healthy: its death starts the back-off again from the shortest delay. */
export const STABLE_MS = 30_000;

/**
 * Delay before restarting a worker that died: doubles with each death in a row, from 100 ms to
 * 10 s, so a worker that dies at once (a broken disk, a bad native module) does not spin.
 */
export function restartDelay(deathsInARow: number): number {
  return Math.min(RESTART_MAX_MS, RESTART_FIRST_MS * 2 ** Math.max(0, deathsInARow - 1));
}

/** Deaths in a row after one more death: a worker that lived `STABLE_MS` or more resets the count to 1. */
export function nextDeaths(deathsInARow: number, livedMs: number | null): number {
  return livedMs !== null && livedMs >= STABLE_MS ? 1 : deathsInARow + 1;
}

/**
 * The byte budgets of the in-process caches, each for the whole service: every worker holds its
 * share. (Shared alternatives are the OS's: slide files and the memory-mapped index live in the
 * page cache, which all workers share without any budget of ours.)
 */
export const SPLIT_BUDGETS = [
  'tileCacheBytes',
  'decodedTileCacheBytes',
  'coarseTileCacheBytes',
  'labelCacheBytes',
  'nearCacheBytes',
] as const;
export type SplitBudgets = Record<(typeof SPLIT_BUDGETS)[number], number>;

export function workerBudgets(whole: SplitBudgets, sizing: WorkerSizing): SplitBudgets {
  const out = { ...whole };
  for (const k of SPLIT_BUDGETS) out[k] = splitBudget(whole[k], sizing);
  return out;
}
