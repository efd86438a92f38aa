/**
 * The primary's metrics and the aggregation of the whole service's: every worker's registry (as
 * JSON, over IPC) and the primary's own, merged by prom-client's AggregatorRegistry, each metric
 * by its own `aggregator` (src/metrics/metrics.ts says which: counters, histograms and byte gauges
 * summed, index_ready the minimum, the ingest's gauge the maximum).
 */
import { AggregatorRegistry, Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { ingestMetrics } from '../metrics/metrics.js';

export interface PrimaryMetrics {
  registry: Registry;
  restarts: Counter;
  up: Gauge;
  ingestRunning: Gauge;
  ingestRuns: Counter;
  /** Workers' metrics JSON + the primary's own, as one Prometheus text. */
  aggregate(workers: unknown[][], missing: number): Promise<{ contentType: string; body: string }>;
}

export function createPrimaryMetrics(configured: number): PrimaryMetrics {
  const registry = new Registry();
  // The primary's own process (its CPU and memory count in the whole service's too).
  collectDefaultMetrics({ register: registry });
  const restarts = new Counter({
    name: 'worker_restarts_total',
    help: 'Worker processes restarted after they died',
    registers: [registry],
  });
  const up = new Gauge({ name: 'workers_up', help: 'Worker processes listening now', registers: [registry] });
  new Gauge({
    name: 'workers_configured',
    help: 'Worker processes configured (WORKERS)',
    registers: [registry],
  }).set(configured);
  const missingGauge = new Gauge({
    name: 'metrics_workers_missing',
    help: 'Workers that did not answer this scrape in time (their metrics are left out of it)',
    registers: [registry],
  });
  const ingest = ingestMetrics(registry);
  return {
    registry,
    restarts,
    up,
    ...ingest,
    async aggregate(workers, missing) {
      missingGauge.set(missing);
      const own = await registry.getMetricsAsJSON();
      const merged = AggregatorRegistry.aggregate([...workers, own]);
      return { contentType: merged.contentType, body: await merged.metrics() };
    },
  };
}
