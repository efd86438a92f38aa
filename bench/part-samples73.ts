/**
 * Part 4, samples73: POST /samples for 10,000 descriptors over 73 Camelyon16-size slides with
 * full-tissue labels (the size of the real dataset), for several class/region combinations:
 * right after the service is ready (cold: its background warm-up gives way to requests), and
 * again once it is warm, with other seeds and another region (so no answer is reused). Target:
 * each under 1 s, the service's memory under 2 GB.
 */
import { DATASET73_SLIDES, ensureDataset73 } from './datasets.js';
import type { Report } from './report.js';
import type { BenchCtx } from './part-tiles.js';
import { buildService, ingestJob, probe, startService, type Server } from './servers.js';

/** The combinations: one class, several classes per slide, exclusions, a category in a region at level 1, an mpp. */
function bodies(
  round: number,
  region: { x: number; y: number; width: number; height: number },
): Array<[string, object]> {
  const seed = 100 * round;
  return [
    ['metastasis, 256 px', { classes: ['metastasis'], count: 10_000, size: 256, seed: seed + 1 }],
    [
      '3 classes, classes-per-slide',
      {
        classes: ['metastasis', 'adipose', 'connective-tissue'],
        balance: 'classes-per-slide',
        count: 10_000,
        size: 256,
        seed: seed + 2,
      },
    ],
    [
      'parenchyma 512 px, metastasis excluded',
      {
        classes: ['lymph-node-parenchyma'],
        count: 10_000,
        size: 512,
        seed: seed + 3,
        exclude: { classes: ['metastasis'], maxFraction: 0 },
      },
    ],
    [
      'category "diagnostic" in a region, level 1',
      { classes: ['diagnostic'], count: 10_000, size: 256, level: 1, seed: seed + 4, region: { rect: region } },
    ],
    [
      'adipose at 0.5 mpp, balanced slides',
      { classes: ['adipose'], count: 10_000, size: 224, mpp: 0.5, seed: seed + 5, balance: 'slides' },
    ],
  ];
}

const WARM_WAIT_MS = 5_000;

export async function samples73Part(report: Report, ctx: BenchCtx): Promise<void> {
  const data = await ensureDataset73(ctx.tmpDir);
  process.stderr.write(`samples73: ingest of ${DATASET73_SLIDES} slides (incremental; ~4 min the first time) ...\n`);
  const ing = await ingestJob('ingest', data.dir, data.index);
  await buildService();
  const part: Record<string, unknown> = { slides: DATASET73_SLIDES, ingest: ing };
  report.parts.samples73 = part;
  const svc = await startService(data.dir, data.index);
  try {
    const cold = await round(svc, 1, { x: 20_000, y: 40_000, width: 60_000, height: 140_000 });
    await new Promise((r) => setTimeout(r, WARM_WAIT_MS));
    const warm = await round(svc, 2, { x: 15_000, y: 30_000, width: 50_000, height: 120_000 });
    part.coldMs = cold;
    part.warmMs = warm;
    part.serviceRss = svc.rss();
    for (const [label, ms] of Object.entries(cold))
      report.value('samples73', `first after start: ${label}`, 'ms', ms, { max: 1000 });
    for (const [label, ms] of Object.entries(warm))
      report.value('samples73', `warm: ${label}`, 'ms', ms, { max: 1000 });
    const rss = svc.rss();
    report.value(
      'samples73',
      'service RSS after sampling (index memory-mapped)',
      'MiB',
      rss ? rss.rss / 1048576 : null,
      { max: 2048 },
      rss ? `peak ${(rss.peak / 1048576).toFixed(0)} MiB` : undefined,
    );
  } finally {
    await svc.stop();
  }
}

async function round(
  s: Server,
  n: number,
  region: { x: number; y: number; width: number; height: number },
): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const [label, body] of bodies(n, region)) {
    const t0 = performance.now();
    const p = await probe(`${s.base}/samples`, 'application/json', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    out[label] = performance.now() - t0;
    const items = (JSON.parse(p.bytes.toString()) as { items?: unknown[] }).items?.length ?? 0;
    if (items !== 10_000) throw new Error(`POST /samples (${label}) returned ${items} items`);
    process.stderr.write(`  round ${n}: ${label}: ${out[label]!.toFixed(0)} ms\n`);
  }
  return out;
}
