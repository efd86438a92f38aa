/**
 * Part experiments: (a) the patch-level label table of every demo slide at 0.5 um/px, 256 px,
 * stride 256 (GET /grid, CSV, streamed; target < 5 s); (b) the same over the 73 Camelyon16-size
 * slides of samples73 (target < 60 s); (c) `npm run export`'s writer (src/export/run.ts) against
 * POST /batches streaming the same samples from the same service (target: export >= 90% of it).
 */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { exportEpochs } from '../src/export/run.js';
import { BENCH_VAR, ensureDataset73 } from './datasets.js';
import type { BenchCtx } from './part-tiles.js';
import type { Report } from './report.js';
import { buildService, ingestJob, probe, startService, type Server } from './servers.js';

const GRID_QUERY = '/grid?mpp=0.5&size=256&stride=256&format=csv';
const EXPORT_REQUEST = {
  classes: ['metastasis', 'adipose', 'lymph-node-parenchyma'],
  minFraction: 0.3,
  size: 256,
  count: 2000,
  seed: 9,
};
const EXPORT_SHARD = 500;

export async function experimentsPart(report: Report, ctx: BenchCtx): Promise<void> {
  const demoDir = join(BENCH_VAR, 'demo');
  const demoIndex = join(BENCH_VAR, 'demo-index.sqlite');
  if (!existsSync(demoIndex)) await ingestJob('demo', demoDir, demoIndex);
  await buildService();
  const part: Record<string, unknown> = {};
  report.parts.experiments = part;
  let svc = await startService(demoDir, demoIndex);
  try {
    const demo = await timedGrid(svc);
    part.demoGrid = demo;
    report.value('experiments', `GET ${GRID_QUERY}, 3 demo slides`, 's', demo.s, { max: 5 }, `${demo.rows} rows`);
    const batches = await batchesRate(svc);
    const exported = await exportRate(svc, ctx.tmpDir);
    part.export = { batchesPerS: batches, exportPerS: exported };
    report.ratio(
      'experiments',
      `export of ${EXPORT_REQUEST.count} 256 px samples, shards of ${EXPORT_SHARD}`,
      'samples/s',
      exported,
      'POST /batches streaming the same',
      batches,
      0.9,
    );
  } finally {
    await svc.stop();
  }
  const data = await ensureDataset73(ctx.tmpDir);
  await ingestJob('ingest', data.dir, data.index);
  svc = await startService(data.dir, data.index);
  try {
    const c73 = await timedGrid(svc);
    part.grid73 = c73;
    report.value(
      'experiments',
      `GET ${GRID_QUERY}, 73 Camelyon16-size slides`,
      's',
      c73.s,
      { max: 60 },
      `${c73.rows} rows, RSS ${((svc.rss()?.peak ?? 0) / 1048576).toFixed(0)} MiB peak`,
    );
  } finally {
    await svc.stop();
  }
}

async function timedGrid(svc: Server): Promise<{ s: number; rows: number }> {
  const t0 = performance.now();
  const p = await probe(`${svc.base}${GRID_QUERY}`, 'text/csv; charset=utf-8');
  const s = (performance.now() - t0) / 1000;
  const rows = p.bytes.toString().split('\n').length - 2;
  process.stderr.write(`  grid: ${rows} rows in ${s.toFixed(2)} s\n`);
  return { s, rows };
}

async function batchesRate(svc: Server): Promise<number> {
  const t0 = performance.now();
  let n = 0;
  for (let start = 0; start < EXPORT_REQUEST.count; start += EXPORT_SHARD) {
    const body = { ...EXPORT_REQUEST, epoch: 1, start, limit: EXPORT_SHARD };
    const p = await probe(`${svc.base}/batches`, 'application/x-tar', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    n += p.bytes.length > 0 ? EXPORT_SHARD : 0;
  }
  const rate = n / ((performance.now() - t0) / 1000);
  process.stderr.write(`  /batches: ${rate.toFixed(0)} samples/s\n`);
  return rate;
}

async function exportRate(svc: Server, tmpDir: string): Promise<number> {
  const out = join(tmpDir, 'export');
  rmSync(out, { recursive: true, force: true });
  const t0 = performance.now();
  // Epoch 2: not the epoch /batches just rendered, so neither run reuses the other's tiles more.
  await exportEpochs({ baseUrl: svc.base, request: EXPORT_REQUEST, epochs: [2], outDir: out, shardSize: EXPORT_SHARD });
  const rate = EXPORT_REQUEST.count / ((performance.now() - t0) / 1000);
  process.stderr.write(`  export: ${rate.toFixed(0)} samples/s\n`);
  return rate;
}
