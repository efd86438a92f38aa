/**
 * The service's CPU a patch against the codec floor's, warm, on the real-size slides: a repeatable
 * measure of the per-patch HTTP/JS overhead for a noisy shared machine (CPU time, not wall time, so
 * other work on the machine changes it little). The same fixed list of 256 px level-0 patches is
 * read by the codec floor in-process (patch-floor.ts) and requested from the built service, pinned
 * to one core with WORKERS=1, at 8 connections (wrk); the service's thread CPU (/proc) is split into
 * its JavaScript thread and the rest (libuv's pool: reads, native decode and encode). The page cache
 * is warmed first (the overhead measured here is CPU, not disk). `--prof DIR` also writes a
 * `node --cpu-prof` profile of the worker and prints its top items.
 *
 *   npx tsx bench/real/overhead.ts [--patches=2000] [--seconds=6] [--runs=3] [--prof=DIR] [--no-build]
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { runWrk } from '../wrk.js';
import { buildService, skipBuild } from '../servers.js';
import { ensureRealData } from './dataset.js';
import { PATCH_SIZE, realPatchList, regionUrl } from './lists.js';
import { patchFloor } from './patch-floor.js';
import { diffCpu, threadCpuMs } from './proc-stats.js';
import { summariseProfiles, type CpuProfile } from './profile.js';
import { startRealService } from './service.js';

const arg = (name: string, def: string): string =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? def;

const JS = 'js (main thread)';

interface ServiceRun {
  requests: number;
  rps: number;
  p99Ms: number;
  jsMs: number;
  otherMs: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (v: number) => v.toFixed(3);

async function main(): Promise<void> {
  const n = Number(arg('patches', '2000'));
  const seconds = Number(arg('seconds', '6'));
  const runs = Number(arg('runs', '3'));
  const prof = arg('prof', '');
  if (process.argv.includes('--no-build')) skipBuild();
  const data = await ensureRealData();
  if (!existsSync(data.index)) throw new Error(`${data.index} is missing: run "npm run bench -- real" once`);
  await buildService();
  const patches = realPatchList(data.slides).slice(0, n);
  const paths = Object.fromEntries(data.slides.map((s) => [s.id, s.path]));
  // The first pass warms the page cache with every tile of the list; the second is the floor.
  await patchFloor(paths, patches, PATCH_SIZE, 120);
  const floor = await patchFloor(paths, patches, PATCH_SIZE, 120);
  if (!floor) throw new Error('the native JPEG decoder is not built (npm run build:native)');
  const tmp = mkdtempSync(join(tmpdir(), 'overhead-'));
  const s = await startRealService({
    name: 'service 1 core W1',
    dataDir: data.dir,
    index: data.index,
    cpus: '0',
    workers: 1,
    ...(prof ? { cpuProfDir: prof } : {}),
  });
  const urls = patches.map((p) => regionUrl(p, null));
  const load = (label: string, secs: number) =>
    runWrk({ base: s.base, paths: urls, connections: 8, seconds: secs, tmpDir: tmp, label });
  const out: ServiceRun[] = [];
  try {
    await load('warm-up', 2);
    for (let i = 0; i < runs; i++) {
      const cpu0 = threadCpuMs(s.tree());
      const w = await load(`run ${i + 1}`, seconds);
      s.assertAlive();
      const cpu = diffCpu(threadCpuMs(s.tree()), cpu0);
      const all = Object.values(cpu).reduce((a, b) => a + b, 0);
      if (w.non2xx > 0 || w.socketErrors > 0)
        throw new Error(`run ${i + 1}: ${w.non2xx} non-2xx, ${w.socketErrors} errors`);
      const js = cpu[JS] ?? 0;
      out.push({
        requests: w.requests,
        rps: w.rps,
        p99Ms: w.p99Ms,
        jsMs: js / w.requests,
        otherMs: (all - js) / w.requests,
      });
    }
  } finally {
    await s.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
  report(floor.cpuMsPerPatch, out);
  if (prof) printProfile(prof);
}

function report(floorMs: number, out: ServiceRun[]): void {
  const line = (r: ServiceRun) =>
    `${r.requests} patches, ${r.rps.toFixed(0)}/s, p99 ${r.p99Ms.toFixed(1)} ms; CPU a patch: JS ${ms(r.jsMs)} + pool ${ms(r.otherMs)} = ${ms(r.jsMs + r.otherMs)} ms`;
  for (const r of out) process.stdout.write(`service W1 1 core: ${line(r)}\n`);
  const js = median(out.map((r) => r.jsMs));
  const total = median(out.map((r) => r.jsMs + r.otherMs));
  process.stdout.write(
    `median: JS ${ms(js)} ms, total ${ms(total)} ms a patch; codec floor ${ms(floorMs)} ms; per-core rate / floor ${(floorMs / total).toFixed(2)} (target >= 0.8); load average ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')}\n`,
  );
}

function printProfile(dir: string): void {
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  const profiles = files.map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as CpuProfile);
  const sum = summariseProfiles(profiles, 25);
  process.stdout.write(`profile (${files.length} files, ${sum.totalMs.toFixed(0)} ms):\n`);
  for (const [k, v] of Object.entries(sum.byKind)) process.stdout.write(`  ${k}: ${v.toFixed(0)} ms\n`);
  for (const t of sum.top) process.stdout.write(`  ${t.selfMs.toFixed(0).padStart(6)} ms  ${t.fn}  ${t.where}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
