/**
 * A worker's side of the cluster: its share of the cores (sharp's threads; its thread pool came
 * with its environment, src/cluster/sizing.ts) and of the memory budgets, and the primary as the
 * holder of the admin ingest, of the count of workers and of the whole service's metrics.
 */
import { availableParallelism } from 'node:os';
import type { Config } from '../config.js';
import { setConcurrency } from '../imaging/sharp.js';
import type { IngestControl, IngestStatus } from '../ops/ingest-control.js';
import type { ClusterView } from '../ops/routes.js';
import { createPrimaryClient } from './ipc.js';
import { splitBudget, workerBudgets, workerSizing } from './sizing.js';

export interface WorkerSide {
  /** The configuration with this worker's share of each whole-service budget. */
  config: Config;
  ingest: IngestControl;
  cluster: ClusterView;
  /** Gives the primary this worker's metrics when it collects them. */
  serveMetrics(collect: () => Promise<unknown[]>): void;
}

export function joinCluster(config: Config, env: NodeJS.ProcessEnv = process.env): WorkerSide {
  const sizing = workerSizing(availableParallelism(), config.workers);
  // An operator's VIPS_CONCURRENCY wins, as their UV_THREADPOOL_SIZE does.
  if (sizing.sharpConcurrency !== null && !env.VIPS_CONCURRENCY) setConcurrency(sizing.sharpConcurrency);
  const client = createPrimaryClient();
  return {
    config: {
      ...config,
      ...workerBudgets(config, sizing),
      remote: { ...config.remote, cacheBytes: splitBudget(config.remote.cacheBytes, sizing) },
    },
    ingest: {
      start: () => client.request<IngestStatus>('ingest-start'),
      status: () => client.request<IngestStatus>('ingest-status'),
    },
    cluster: {
      // Before the primary's first count arrives (milliseconds after listening), this worker is the one known up.
      workers: () => client.workers() ?? { configured: config.workers, up: 1, restarts: 0 },
      metrics: () => client.request('metrics'),
    },
    serveMetrics: client.serveMetrics,
  };
}
