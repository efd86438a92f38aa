/**
 * The whole service's metrics and the worker <-> primary requests, without processes: two apps'
 * registries aggregated as the primary does (each metric by its own aggregator), and a problem
 * raised in the primary arriving in the worker as the same AppError.
 */
import { EventEmitter } from 'node:events';
import type { Worker } from 'node:cluster';
import { describe, expect, it } from 'vitest';
import { createPrimaryMetrics } from '../../src/cluster/metrics.js';
import { answerWorker, createPrimaryClient, type RequestHandlers } from '../../src/cluster/ipc.js';
import { AppError } from '../../src/errors.js';
import { createMetrics } from '../../src/metrics/metrics.js';

function sample(text: string, name: string, labels = ''): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('aggregated metrics', () => {
  it('sums counters and byte gauges, takes the minimum of readiness and the maximum of the ingest state', async () => {
    const a = createMetrics({
      index: () => ({ ready: true, slides: 3, datasetVersion: 'v1' }),
      caches: () => ({ rendered_tiles: 1000 }),
    });
    const b = createMetrics({
      index: () => ({ ready: false, slides: 0, datasetVersion: 'v1' }),
      caches: () => ({ rendered_tiles: 234 }),
    });
    a.cache.inc({ cache: 'tiles', result: 'hit' }, 5);
    b.cache.inc({ cache: 'tiles', result: 'hit' }, 7);
    b.rejected.inc();
    const primary = createPrimaryMetrics(2);
    primary.up.set(2);
    primary.restarts.inc();
    primary.ingestRunning.set(1);
    primary.ingestRuns.inc({ result: 'done' });
    const workers = [await a.registry.getMetricsAsJSON(), await b.registry.getMetricsAsJSON()];
    const { body, contentType } = await primary.aggregate(workers, 0);
    expect(contentType).toMatch(/^text\/plain/);
    expect(sample(body, 'cache_lookups_total', 'cache="tiles",result="hit"')).toBe(12);
    expect(sample(body, 'renders_rejected_total')).toBe(1);
    expect(sample(body, 'cache_bytes', 'cache="rendered_tiles"')).toBe(1234);
    expect(sample(body, 'index_ready', 'dataset_version="v1"')).toBe(0);
    expect(sample(body, 'index_slides')).toBe(3);
    expect(sample(body, 'ingest_running')).toBe(1);
    expect(sample(body, 'ingest_runs_total', 'result="done"')).toBe(1);
    expect(sample(body, 'workers_up')).toBe(2);
    expect(sample(body, 'workers_configured')).toBe(2);
    expect(sample(body, 'worker_restarts_total')).toBe(1);
    expect(sample(body, 'metrics_workers_missing')).toBe(0);
    // Each metric once: two registries with the same names make one exposition.
    const types = body.split('\n').filter((l) => l.startsWith('# TYPE '));
    expect(new Set(types).size).toBe(types.length);
  });
});

/** A worker process and the primary's handle on it, joined by two emitters (what cluster's IPC carries). */
function channel() {
  const proc = Object.assign(new EventEmitter(), {
    connected: true,
    send: (m: unknown) => !!worker.emit('message', m),
  });
  const worker = Object.assign(new EventEmitter(), {
    isConnected: () => true,
    send: (m: unknown) => !!setImmediate(() => proc.emit('message', JSON.parse(JSON.stringify(m)))),
  });
  return { proc: proc as unknown as NodeJS.Process, worker: worker as unknown as Worker & EventEmitter };
}

describe('worker -> primary requests', () => {
  it("carries the primary's answer, and its problem as the same status, code and detail", async () => {
    const { proc, worker } = channel();
    let runs = 0;
    const handlers: RequestHandlers = {
      'ingest-start': async () => {
        runs++;
        throw new AppError(409, 'INGEST_RUNNING', 'an ingest is already running');
      },
      'ingest-status': async () => ({ state: 'idle' }),
      metrics: () => Promise.reject(new Error('a bug')),
    };
    const bugs: unknown[] = [];
    worker.on('message', (m: unknown) => answerWorker(worker, m, handlers, (e) => bugs.push(e)));
    const client = createPrimaryClient(proc);
    expect(await client.request('ingest-status')).toEqual({ state: 'idle' });
    const e = await client.request('ingest-start').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(AppError);
    expect(e).toMatchObject({ status: 409, code: 'INGEST_RUNNING', detail: 'an ingest is already running' });
    expect(runs).toBe(1);
    // Anything but a problem is the primary's bug: logged there, a plain 500 here without its message.
    expect(await client.request('metrics').catch((x: unknown) => x)).toMatchObject({
      status: 500,
      code: 'PRIMARY_ERROR',
    });
    expect(bugs).toHaveLength(1);
  });

  it('hears how many workers are up, and refuses at once without a primary', async () => {
    const { proc, worker } = channel();
    const client = createPrimaryClient(proc);
    expect(client.workers()).toBeNull();
    worker.send({ type: 'slides:workers', configured: 4, up: 3, restarts: 2 });
    await new Promise((r) => setImmediate(r));
    expect(client.workers()).toEqual({ configured: 4, up: 3, restarts: 2 });
    (proc as unknown as { connected: boolean }).connected = false;
    expect(await client.request('metrics').catch((x: unknown) => x)).toMatchObject({
      status: 503,
      code: 'PRIMARY_GONE',
    });
  });
});
