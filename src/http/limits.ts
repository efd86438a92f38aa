/**
 * Bounds on work: a limit on pixel renders running at once with a short, bounded queue (excess
 * is refused with 503 and Retry-After, never queued without end), and a time budget per request.
 */
import type { ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';
import { AppError } from '../errors.js';

export interface Limiter {
  run<T>(fn: () => Promise<T>): Promise<T>;
  stats(): { running: number; queued: number };
}

export interface LimiterHooks {
  onStart?(): void;
  onEnd?(): void;
  onReject?(): void;
}

export function createLimiter(maxRunning: number, maxQueued: number, hooks: LimiterHooks = {}): Limiter {
  let running = 0;
  const queue: Array<() => void> = [];
  const release = () => {
    running--;
    hooks.onEnd?.();
    const next = queue.shift();
    if (next) next();
  };
  return {
    async run(fn) {
      if (running >= maxRunning) {
        if (queue.length >= maxQueued) {
          hooks.onReject?.();
          throw new AppError(
            503,
            'BUSY',
            `${running} renders are running and ${queue.length} waiting: try again shortly`,
            { 'Retry-After': '1' },
          );
        }
        await new Promise<void>((resolve) => queue.push(resolve));
      }
      running++;
      hooks.onStart?.();
      try {
        return await fn();
      } finally {
        release();
      }
    },
    stats: () => ({ running, queued: queue.length }),
  };
}

/**
 * Answers 503 when a request has not answered within `ms` (streams that have started are left
 * to their own end: a batch that is sending is not late, it is long).
 */
export function timeBudget(ms: number): RequestHandler {
  return (req, res, next) => {
    startTimeBudget(ms, res, next);
    next();
  };
}

/** The per-request part of timeBudget (also the hot-path dispatcher's): `late` gets the 503 when it is due. */
export function startTimeBudget(ms: number, res: ServerResponse, late: (e: AppError) => void): void {
  const timer = setTimeout(() => {
    if (!res.headersSent)
      late(new AppError(503, 'TIMEOUT', `the request took longer than ${ms} ms`, { 'Retry-After': '5' }));
  }, ms);
  timer.unref();
  res.on('close', () => clearTimeout(timer));
}
