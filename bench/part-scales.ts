/**
 * `npm run bench -- scales`: only the multi-scale batch comparison of the patches part
 * (bench/scales.ts), on the same data and service, without the part's load runs and baselines.
 */
import { ensureCamelyonData } from './datasets.js';
import type { Report } from './report.js';
import type { BenchCtx } from './part-tiles.js';
import { timeScales } from './scales.js';
import { buildService, ingestJob, startService } from './servers.js';

export async function scalesPart(report: Report, ctx: BenchCtx): Promise<void> {
  const data = await ensureCamelyonData(ctx.tmpDir);
  await ingestJob('ingest', data.serveDir, data.serveIndex);
  await buildService();
  const svc = await startService(data.serveDir, data.serveIndex);
  try {
    report.parts.scales = { ...(await timeScales(svc, report)), serviceRss: svc.rss() };
  } finally {
    await svc.stop();
  }
}
