/**
 * The service's CPU a patch against the codec floor's, warm, on the real-size slides: a repeatable
 * measure of the per-patch HTTP/JS overhead for a noisy shared machine (CPU time, not wall time, so
 * other work on the machine changes it little). The same fixed list of 256 px level-0 patches is
 * read by the codec floor in-process (patch-floor.ts) and requested from the built service, pinned
 * to one core with WORKERS=1, at 8 connections (wrk); the service's thread CPU (/proc) is split into
 * its JavaScript thread and the rest (libuv's pool: reads, native decode and encode). The page cache
 * is warmed first (the overhead measured here is CPU, not disk). `--prof DIR` also writes a
 * `node --cpu-prof` profile of the worker and prints its top items. `--compare=DIR[,DIR]` runs other
 * builds (DIR/dist/server.js, e.g. older commits' trees) in the same rounds: the floor and both
 * services take turns, so the machine's changing load falls on all of them alike.
 *
 * `--cpus=0,1` pins the service to other cores (a profile of the JavaScript thread on its own core:
 * on one core it is preempted by the pool threads it wakes, and the samples say where it waited).
 *
 *   npx tsx bench/real/overhead.ts [--patches=2000] [--seconds=6] [--runs=3] [--cpus=0] [--prof=DIR]
 *     [--compare=DIR,...] [--no-build]
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
import { startRealService, type RealService } from './service.js';

const arg = (name: string, def: string): string =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? def;

interface ServiceRun {
  requests: number;
  rps: number;
  p99Ms: number;
  jsMs: number;
  /** All other threads: libuv's pool (reads, native decode and encode) and V8's helpers. */
  otherMs: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (v: number) => v.toFixed(3);
const total = (r: ServiceRun) => r.jsMs + r.otherMs;

/** One load of `seconds` on a running service: its threads' CPU a patch. */
async function measure(s: RealService, urls: string[], seconds: number, tmpDir: string): Promise<ServiceRun> {
  const cpu0 = threadCpuMs(s.tree());
  const w = await runWrk({ base: s.base, paths: urls, connections: 8, seconds, tmpDir, label: s.name });
  s.assertAlive();
  const cpu = diffCpu(threadCpuMs(s.tree()), cpu0);
  if (w.non2xx > 0 || w.socketErrors > 0) throw new Error(`${s.name}: ${w.non2xx} non-2xx, ${w.socketErrors} errors`);
  const all = Object.values(cpu).reduce((a, b) => a + b, 0);
  const js = cpu['js (main thread)'] ?? 0;
  return { requests: w.requests, rps: w.rps, p99Ms: w.p99Ms, jsMs: js / w.requests, otherMs: (all - js) / w.requests };
}

async function main(): Promise<void> {
  const n = Number(arg('patches', '2000'));
  const seconds = Number(arg('seconds', '6'));
  const runs = Number(arg('runs', '3'));
  const prof = arg('prof', '');
  const cpus = arg('cpus', '0');
  const compare = arg('compare', '');
  if (process.argv.includes('--no-build')) skipBuild();
  const data = await ensureRealData();
  if (!existsSync(data.index)) throw new Error(`${data.index} is missing: run "npm run bench -- real" once`);
  await buildService();
  const patches = realPatchList(data.slides).slice(0, n);
  const paths = Object.fromEntries(data.slides.map((s) => [s.id, s.path]));
  // A first pass warms the page cache with every tile of the list.
  if (!(await patchFloor(paths, patches, PATCH_SIZE, 120)))
    throw new Error('the native JPEG decoder is not built (npm run build:native)');
  const tmp = mkdtempSync(join(tmpdir(), 'overhead-'));
  const base = { dataDir: data.dir, index: data.index, cpus, workers: 1 };
  const services: RealService[] = [];
  const out = new Map<string, ServiceRun[]>();
  const floors: number[] = [];
  const nowUs = () => Number(process.hrtime.bigint() / 1000n);
  const window = { fromUs: 0, toUs: 0 };
  try {
    services.push(await startRealService({ ...base, name: 'this tree', ...(prof ? { cpuProfDir: prof } : {}) }));
    for (const other of compare ? compare.split(',') : [])
      services.push(await startRealService({ ...base, name: other, script: join(other, 'dist/server.js') }));
    const urls = patches.map((p) => regionUrl(p, null));
    for (const s of services) await measure(s, urls, 2, tmp); // warm-up
    window.fromUs = nowUs();
    // Rounds alternate the floor and each service, so a change in the machine's load touches all alike.
    for (let i = 0; i < runs; i++) {
      floors.push((await patchFloor(paths, patches, PATCH_SIZE, seconds))!.cpuMsPerPatch);
      for (const s of services) out.set(s.name, [...(out.get(s.name) ?? []), await measure(s, urls, seconds, tmp)]);
    }
    window.toUs = nowUs();
  } finally {
    for (const s of services) await s.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
  for (const [name, rs] of out) report(name, median(floors), rs);
  process.stdout.write(`codec floor runs: ${floors.map(ms).join(', ')} ms a patch\n`);
  if (prof) printProfile(prof, window);
}

function report(name: string, floorMs: number, out: ServiceRun[]): void {
  const line = (r: ServiceRun) =>
    `${r.requests} patches, ${r.rps.toFixed(0)}/s, p99 ${r.p99Ms.toFixed(1)} ms; CPU a patch: JS ${ms(r.jsMs)} + pool and V8 helpers ${ms(r.otherMs)} = ${ms(total(r))} ms`;
  for (const r of out) process.stdout.write(`${name}: ${line(r)}\n`);
  const js = median(out.map((r) => r.jsMs));
  const mid = median(out.map(total));
  const least = Math.min(...out.map(total));
  process.stdout.write(
    `${name}: median JS ${ms(js)} ms, total ${ms(mid)} ms (least ${ms(least)}) a patch; codec floor (median) ${ms(floorMs)} ms; per-core rate / floor ${(floorMs / mid).toFixed(2)} (target >= 0.8); load average ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')}\n`,
  );
}

/** The profile's samples while the rounds ran (the same monotonic clock), not the start or the warm-up. */
function printProfile(dir: string, window: { fromUs: number; toUs: number }): void {
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  const profiles = files.map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as CpuProfile);
  const sum = summariseProfiles(profiles, 25, window);
  process.stdout.write(`profile (${files.length} files, ${sum.totalMs.toFixed(0)} ms):\n`);
  for (const [k, v] of Object.entries(sum.byKind)) process.stdout.write(`  ${k}: ${v.toFixed(0)} ms\n`);
  for (const t of sum.top) process.stdout.write(`  ${t.selfMs.toFixed(0).padStart(6)} ms  ${t.fn}  ${t.where}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
