/**
 * `npm run bench [-- ingest tiles patches] [--seconds=N] [--no-build]`: measures the service and, in the same
 * run, baselines on the same data; prints every load run and the comparisons (service, baseline,
 * ratio, target) and writes them to bench/results/latest.json.
 *
 * Everything listens on 127.0.0.1; every process started is recorded by PID and stopped by PID at
 * the end, on Ctrl-C and on errors. Temporary files live in one temp dir removed at the end; the
 * generated data is kept under var/bench/ and reused while its inputs are unchanged.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { ingestPart } from './part-ingest.js';
import { patchesPart } from './part-patches.js';
import { samples73Part } from './part-samples73.js';
import { cachePart } from './part-cache.js';
import { experimentsPart } from './part-experiments.js';
import { iiifPart } from './part-iiif.js';
import { nearPart } from './part-near.js';
import { realPart } from './real/part-real.js';
import { remotePart } from './part-remote.js';
import { scalesPart } from './part-scales.js';
import { tilesPart, type BenchCtx } from './part-tiles.js';
import { installExitHooks, recordedPids, stopAll } from '../dev/procs.js';
import { Report } from './report.js';
import { skipBuild } from './servers.js';

const PARTS = [
  'ingest',
  'tiles',
  'patches',
  'samples73',
  'cache',
  'experiments',
  'iiif',
  'near',
  'real',
  'remote',
  'scales',
] as const;
/** Run only when named: real writes ~6 GB once and drops the page cache; scales is a subset of patches. */
const OPT_IN: readonly string[] = ['real', 'scales'];
type Part = (typeof PARTS)[number];

function parseArgs(argv: string[]): { parts: Part[]; seconds: number; build: boolean } {
  const parts: Part[] = [];
  let seconds = 10;
  let build = true;
  for (const a of argv) {
    const m = /^--seconds=(\d+(?:\.\d+)?)$/.exec(a);
    if (m) seconds = Number(m[1]);
    else if (a === '--no-build') build = false;
    else if ((PARTS as readonly string[]).includes(a)) parts.push(a as Part);
    else if (a === '--help' || a === '-h') {
      process.stdout.write(
        `usage: npm run bench -- [${PARTS.join(' ')}] [--seconds=N] [--no-build]   (default: all parts but real, 10 s per load run, npm run build first)\n`,
      );
      process.exit(0);
    } else throw new Error(`unknown argument "${a}" (parts: ${PARTS.join(', ')}; option --seconds=N)`);
  }
  if (!(seconds >= 1 && seconds <= 60)) throw new Error('--seconds must be 1..60');
  return {
    parts: parts.length ? PARTS.filter((p) => parts.includes(p)) : PARTS.filter((p) => !OPT_IN.includes(p)),
    seconds,
    build,
  };
}

async function main(): Promise<number> {
  const { parts, seconds, build } = parseArgs(process.argv.slice(2));
  if (!build) skipBuild();
  const tmpDir = mkdtempSync(join(tmpdir(), 'bench-'));
  let cleaned = false;
  const cleanup = () => {
    if (cleaned) return;
    cleaned = true;
    rmSync(tmpDir, { recursive: true, force: true });
  };
  installExitHooks('bench', cleanup);
  const report = new Report();
  const ctx: BenchCtx = { tmpDir, seconds };
  const started = new Date();
  const t0 = performance.now();
  const failed: string[] = [];
  const loadStart = loadavg();
  process.stderr.write(
    `bench: parts ${parts.join(', ')}; ${seconds} s per load run; ${cpus().length} CPUs; load ${loadStart.map((l) => l.toFixed(2)).join(' ')}; temp ${tmpDir}\n`,
  );
  // Other work on the machine takes CPU from whatever is measured: say so next to the figures.
  if (loadStart[0]! > 0.5 * cpus().length)
    report.note(
      `the machine was busy when the bench started (load average ${loadStart[0]!.toFixed(2)} on ${cpus().length} CPUs): figures are lower than on an idle machine`,
    );
  try {
    for (const part of parts) {
      const p0 = performance.now();
      try {
        if (part === 'ingest') await ingestPart(report, tmpDir);
        else if (part === 'tiles') await tilesPart(report, ctx);
        else if (part === 'patches') await patchesPart(report, ctx);
        else if (part === 'samples73') await samples73Part(report, ctx);
        else if (part === 'cache') await cachePart(report, ctx);
        else if (part === 'iiif') await iiifPart(report, ctx);
        else if (part === 'near') await nearPart(report);
        else if (part === 'real') await realPart(report, ctx);
        else if (part === 'remote') await remotePart(report, ctx);
        else if (part === 'scales') await scalesPart(report, ctx);
        else await experimentsPart(report, ctx);
      } catch (e) {
        failed.push(part);
        report.note(`part ${part} FAILED: ${(e as Error).message}`);
        process.stderr.write(`bench: part ${part} failed: ${(e as Error).stack ?? String(e)}\n`);
        await stopAll();
      }
      process.stderr.write(`bench: part ${part} took ${((performance.now() - p0) / 1000).toFixed(0)} s\n`);
    }
  } finally {
    const left = recordedPids();
    if (left.length) process.stderr.write(`bench: stopping ${left.map((p) => `${p.name} (${p.pid})`).join(', ')}\n`);
    await stopAll();
  }
  const totalS = (performance.now() - t0) / 1000;
  report.print(process.stdout);
  const path = report.write(resolve('bench/results'), {
    startedAt: started.toISOString(),
    totalSeconds: totalS,
    parts,
    secondsPerRun: seconds,
    machine: {
      cpus: cpus().length,
      cpu: cpus()[0]?.model ?? 'unknown',
      node: process.version,
      sharp: sharp.versions.sharp ?? null,
      libvips: sharp.versions.vips,
    },
    failedParts: failed,
    loadAverage: { start: loadStart, end: loadavg() },
  });
  process.stdout.write(`\nbench: ${totalS.toFixed(0)} s in all; results in ${path}\n`);
  cleanup();
  return failed.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  async (e: unknown) => {
    process.stderr.write(`bench: ${(e as Error).stack ?? String(e)}\n`);
    await stopAll();
    process.exit(1);
  },
);
