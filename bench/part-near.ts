/**
 * Part near: 10,000 descriptors with `region.near` over the demo dataset (generated at full
 * scale under var/bench/near-demo and reused), in-process: the request parsed as the route does,
 * the sampler, and the descriptors rendered to JSON as POST /samples sends them (no socket).
 * First request (distance fields and band buckets built), then warm with other seeds. Target:
 * warm < 1 s.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_VAR } from './datasets.js';
import type { Report } from './report.js';
import { openIndexReadOnly } from '../src/db/open.js';
import { createGeneration } from '../src/generation.js';
import { ingest } from '../src/indexer/ingest.js';
import { sampleItem } from '../src/patches/routes.js';
import { createSampler } from '../src/patches/sampler.js';
import { parseSampleRequest } from '../src/patches/spec.js';

const DIR = join(BENCH_VAR, 'near-demo');
const WARM_ROUNDS = 3;

function bodies(seed: number): Array<[string, object]> {
  return [
    [
      'parenchyma + connective, 1-500 um ring around metastasis',
      {
        classes: ['lymph-node-parenchyma', 'connective-tissue'],
        count: 10_000,
        size: 256,
        seed,
        region: { near: { classes: ['metastasis'], outsideUm: 1, withinUm: 500 } },
      },
    ],
    [
      'metastasis within 50 um of parenchyma (its border), 224 px at 0.5 mpp',
      {
        classes: ['metastasis'],
        count: 10_000,
        size: 224,
        mpp: 0.5,
        seed: seed + 1,
        region: { near: { classes: ['lymph-node-parenchyma'], withinUm: 50 } },
      },
    ],
  ];
}

async function ensureDemo(): Promise<{ dataDir: string; indexPath: string }> {
  const dataDir = join(DIR, 'data');
  const indexPath = join(DIR, 'index.sqlite');
  const done = join(DIR, 'ready');
  if (!existsSync(done)) {
    mkdirSync(DIR, { recursive: true });
    process.stderr.write('near: generating the demo (full scale, ~1 min) and ingesting it ...\n');
    const { generateDemo } = await import('../src/demo/generate.js');
    await generateDemo({ outDir: dataDir, seed: 1 });
    await ingest({ dataDir, indexPath });
    writeFileSync(done, '');
  }
  return { dataDir, indexPath };
}

export async function nearPart(report: Report): Promise<void> {
  const { dataDir, indexPath } = await ensureDemo();
  const db = openIndexReadOnly(indexPath);
  const g = createGeneration(db, dataDir, 128 << 20);
  const sampler = createSampler(g);
  const part: Record<string, unknown> = { slides: g.catalogue.slideCount() };
  report.parts.near = part;
  // Wall time and this process's CPU time: on a shared, loaded machine the CPU time is what a
  // request costs on a free core (the sampler is single-threaded; nothing else runs here).
  const once = async (body: object) => {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const { spec, slides } = parseSampleRequest(body, g, 100_000);
    const items = await sampler.sample(spec, slides);
    const json = JSON.stringify({ items: items.map((d) => sampleItem(g, spec, d)) });
    const ms = performance.now() - t0;
    const c = process.cpuUsage(c0);
    if (items.length !== 10_000 || json.length === 0) throw new Error(`near: ${items.length} items`);
    return { ms, cpuMs: (c.user + c.system) / 1000 };
  };
  const labels = bodies(0).map(([label]) => label);
  const cold: Array<{ ms: number; cpuMs: number }> = [];
  for (const [, body] of bodies(1)) cold.push(await once(body));
  const warm: Array<Array<{ ms: number; cpuMs: number }>> = labels.map(() => []);
  for (let r = 0; r < WARM_ROUNDS; r++) {
    for (const [k, [, body]] of bodies(10 * (r + 2)).entries()) warm[k]!.push(await once(body));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  labels.forEach((label, k) => {
    const w = median(warm[k]!.map((r) => r.ms));
    const wc = median(warm[k]!.map((r) => r.cpuMs));
    process.stderr.write(
      `  near: ${label}: first ${cold[k]!.ms.toFixed(0)} ms (CPU ${cold[k]!.cpuMs.toFixed(0)}), ` +
        `warm median ${w.toFixed(0)} ms (CPU ${wc.toFixed(0)})\n`,
    );
    report.value('near', `first: ${label}`, 'ms', cold[k]!.ms, null, `CPU ${cold[k]!.cpuMs.toFixed(0)} ms`);
    report.value('near', `warm: ${label}`, 'ms', w, { max: 1000 });
    report.value('near', `warm, CPU time: ${label}`, 'ms', wc, { max: 1000 });
  });
  part.coldMs = Object.fromEntries(labels.map((l, k) => [l, cold[k]]));
  part.warmMs = Object.fromEntries(labels.map((l, k) => [l, warm[k]]));
  db.close();
}
