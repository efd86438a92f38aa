/**
 * /metrics of the object store: requests, bytes, retries and latency by operation (head, get,
 * range, list), and range-cache hits. Labels are operations and outcomes only: never a key, a
 * URL or a credential.
 */
import { Counter, Histogram, type Registry } from 'prom-client';
import type { StoreObserver } from './store.js';

export function storeMetrics(registry: Registry): StoreObserver {
  const requests = new Counter({
    name: 'store_requests_total',
    help: 'Requests to the object store, by operation and outcome',
    labelNames: ['op', 'outcome'],
    registers: [registry],
  });
  const bytes = new Counter({
    name: 'store_bytes_total',
    help: 'Body bytes read from the object store, by operation',
    labelNames: ['op'],
    registers: [registry],
  });
  const retries = new Counter({
    name: 'store_retries_total',
    help: 'Retried store requests, by operation',
    labelNames: ['op'],
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'store_request_duration_seconds',
    help: 'Time of one store request attempt, by operation',
    labelNames: ['op'],
    // A ranged GET in one region takes 10-50 ms; a throttled or failing store seconds.
    buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const cache = new Counter({
    name: 'store_cache_lookups_total',
    help: 'Range-cache lookups of remote slide bytes, by kind (range, block) and result',
    labelNames: ['op', 'result'],
    registers: [registry],
  });
  return {
    request(op, outcome, seconds, n) {
      requests.inc({ op, outcome });
      latency.observe({ op }, seconds);
      if (n > 0) bytes.inc({ op }, n);
    },
    retry: (op) => retries.inc({ op }),
    cache: (op, hit) => cache.inc({ op, result: hit ? 'hit' : 'miss' }),
  };
}
