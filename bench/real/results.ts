/**
 * The real-size part's comparisons (service vs the baselines measured in the same run, with the
 * issue's targets) and notes: scaling efficiency, per-core rate vs the codec floor, bytes read per
 * request, page cache, RSS against the budgets, where the CPU went (threads and JS profile).
 */
import type { ColdRun, OpenSlideRun, Runs } from './measure.js';
import type { DiskRun } from './disk.js';
import type { PatchFloor } from './patch-floor.js';
import type { ProfileSummary } from './profile.js';
import type { Report } from '../report.js';
import { loadConfig } from '../../src/config.js';

const MiB = 1024 * 1024;
/** Stated per-worker overhead above the cache budgets: Node + V8 heap + libvips + SQLite pages. */
export const RSS_OVERHEAD_PER_WORKER = 200 * MiB;
/**
 * The service's default budgets of the caches these loads can fill (src/config.ts, read here so a
 * new cache or a new default counts): rendered tiles, decoded tiles, coarse-level tiles, labels.
 * The region.near cache is left out: only sampling with `near` fills it, and no request here does.
 */
const DEFAULTS = loadConfig({});
export const CACHE_BUDGET =
  DEFAULTS.tileCacheBytes + DEFAULTS.decodedTileCacheBytes + DEFAULTS.coarseTileCacheBytes + DEFAULTS.labelCacheBytes;

interface Extra {
  disk?: Array<DiskRun & { cold: boolean }>;
  openslide?: Record<string, OpenSlideRun> | null;
  iip?: ColdRun | null;
  floor?: (Partial<PatchFloor> & { cold: boolean }) | null;
  profile?: { summary?: ProfileSummary; cpuMs?: Record<string, number>; rps?: number } | null;
}

export function recordResults(report: Report, part: Record<string, unknown>, runs: Runs, extra: Extra): void {
  const r = (k: string) => runs[k]?.row ?? null;
  const rps = (k: string) => r(k)?.rps ?? null;
  const os = extra.openslide ?? null;
  const warm = Object.values(runs).some((x) => !x.cold) || (os && Object.values(os).some((x) => !x.cold));
  if (warm) report.note('!!! real: some runs were WARM (page cache not dropped): see the pattern column !!!');
  const M = 'real';
  report.ratio(
    M,
    'patches 256 L0 c8, 2 cores',
    'patches/s',
    rps('2c L0'),
    `OpenSlide in-proc x${os?.L0?.procs ?? '?'}`,
    os?.L0?.patchesPerSec ?? null,
    1.5,
  );
  report.ratio(
    M,
    'patches 256 at 0.5 um/px c8, 2 cores',
    'patches/s',
    rps('2c mpp'),
    `OpenSlide in-proc x${os?.mpp?.procs ?? '?'}`,
    os?.mpp?.patchesPerSec ?? null,
    null,
  );
  report.ratio(
    M,
    'patch by mpp 0.5 vs by level 0 (rate; cost <= 1.3x: >= 0.77x)',
    'patches/s',
    rps('2c mpp'),
    'service by level 0',
    rps('2c L0'),
    0.77,
  );
  const px = (x: ColdRun | null | undefined) => (x ? x.row.pxPerSec / 1e6 : null);
  report.ratio(M, 'native 512 tiles c8, 2 cores', 'Mpx/s', px(runs['2c native']), 'IIPImage 2 procs', px(extra.iip), 2);
  report.value(M, 'rendered 254/1 tiles c8, 2 cores', 'tiles/s', rps('2c rendered'), null);
  for (const k of ['2c L0', '2c mpp', '2c native', '2c rendered'])
    report.value(
      M,
      `p99 ${runs[k]?.row.kind ?? k} c8, 2 cores`,
      'ms',
      r(k)?.p99Ms ?? null,
      { max: 50 },
      `p50 ${r(k)?.p50Ms.toFixed(1) ?? 'n/a'} ms`,
    );
  for (const k of ['L0', 'rendered']) scaling(report, runs, k);
  const floor = extra.floor ?? null;
  report.ratio(
    M,
    'per-core patch rate (1 core W1) vs codec floor per core',
    'patches/s',
    median(scalingRates(runs, '1c', 'L0')),
    'decode+encode in-process',
    floor?.perCorePatchesPerSec ?? null,
    0.8,
    floor?.cpuMsPerPatch
      ? `floor ${floor.cpuMsPerPatch.toFixed(2)} ms CPU a patch${floor.cold ? ', cold' : ', WARM'}`
      : undefined,
  );
  cpuRatios(report, runs, floor);
  diskNotes(report, runs, extra);
  rssValues(report, runs);
  cpuNotes(report, part, runs, extra);
}

/** The rates of every cold run of one configuration and load: `1c L0`, `1c L0 #2`, ... */
export function scalingRates(runs: Runs, cores: '1c' | '2c', kind: string): number[] {
  return Object.entries(runs)
    .filter(([key]) => key === `${cores} ${kind}` || key.startsWith(`${cores} ${kind} #`))
    .map(([, x]) => x.row.rps);
}

export function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * Scaling efficiency from the medians of the cold pairs' rates (part-real.ts scalingRepeats), and
 * each pair's own ratio in the detail, so the spread is on the page.
 */
function scaling(report: Report, runs: Runs, k: string): void {
  const [one, two] = [scalingRates(runs, '1c', k), scalingRates(runs, '2c', k)];
  const [m1, m2] = [median(one), median(two)];
  const pairs = one.map((r1, i) => (two[i] === undefined ? null : two[i]! / (2 * r1)));
  report.value(
    'real',
    `scaling ${k}: 2-core W2 / (2 x 1-core W1), medians of ${Math.min(one.length, two.length)} cold pairs`,
    'x',
    m1 && m2 ? m2 / (2 * m1) : null,
    { min: 0.85 },
    `1 core ${one.map((r) => r.toFixed(0)).join('/')} -> 2 cores ${two.map((r) => r.toFixed(0)).join('/')} /s; ` +
      `pairs ${pairs.map((e) => (e === null ? 'n/a' : e.toFixed(2))).join(', ')}`,
  );
}

/** CPU time a request (all the service's threads) moves less with other load than rates do. */
function cpuRatios(report: Report, runs: Runs, floor: Extra['floor']): void {
  const M = 'real';
  const cpuPer = (k: string) => {
    const x = runs[k];
    return x ? Object.values(x.cpuMs).reduce((a, b) => a + b, 0) / Math.max(1, x.row.requests) : null;
  };
  const mppL0 = cpuPer('2c mpp') !== null && cpuPer('2c L0') ? cpuPer('2c mpp')! / cpuPer('2c L0')! : null;
  report.value(M, 'CPU a patch by mpp 0.5 / CPU a patch by level 0', 'x', mppL0, { max: 1.3 }, 'all threads, by /proc');
  report.ratio(
    M,
    'codec floor CPU a patch / service CPU a patch (1 core W1)',
    'ms',
    floor?.cpuMsPerPatch ?? null,
    'service, all threads',
    cpuPer('1c L0'),
    0.8,
    'the per-core ratio by CPU time',
  );
}

function diskNotes(report: Report, runs: Runs, extra: Extra): void {
  for (const [k, x] of Object.entries(runs))
    report.value(
      'real',
      `disk read per request, ${k}`,
      'KiB',
      x.readBytesPerRequest / 1024,
      null,
      `page cache after: ${x.pageCacheAfter === null ? 'n/a' : `${(x.pageCacheAfter / MiB).toFixed(0)} MiB`} (before ${x.pageCacheBefore === null ? 'n/a' : `${(x.pageCacheBefore / MiB).toFixed(0)} MiB`})`,
    );
  const os = extra.openslide?.L0;
  if (os)
    report.value(
      'real',
      'disk read per patch, OpenSlide L0',
      'KiB',
      os.readBytes / 1024 / Math.max(1, os.patches),
      null,
    );
  if (extra.iip)
    report.value('real', 'disk read per tile, IIPImage native', 'KiB', extra.iip.readBytesPerRequest / 1024, null);
  for (const d of extra.disk ?? [])
    report.value(
      'real',
      `disk alone: stored-tile preads, ${d.depth} in flight`,
      'reads/s',
      d.readsPerSec,
      null,
      `${d.mbPerSec.toFixed(1)} MB/s, ${d.meanKiB.toFixed(0)} KiB a read${d.cold ? ', cold' : ', WARM'}`,
    );
}

function rssValues(report: Report, runs: Runs): void {
  for (const [k, x] of Object.entries(runs)) {
    const workers = k.startsWith('1c') ? 1 : 2;
    const budget = CACHE_BUDGET + workers * RSS_OVERHEAD_PER_WORKER;
    report.value(
      'real',
      `RSS of the service tree after ${k}`,
      'MiB',
      x.rss.rss / MiB,
      { max: budget / MiB },
      `peak ${(x.rss.peak / MiB).toFixed(0)} MiB; budget = caches ${(CACHE_BUDGET / MiB).toFixed(0)} MiB + ${workers} x 200 MiB`,
    );
  }
}

function share(cpu: Record<string, number>): string {
  const total = Object.values(cpu).reduce((a, b) => a + b, 0) || 1;
  return Object.entries(cpu)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${((100 * v) / total).toFixed(0)}%`)
    .join(', ');
}

function cpuNotes(report: Report, part: Record<string, unknown>, runs: Runs, extra: Extra): void {
  for (const k of ['1c L0', '2c L0', '2c rendered']) {
    const x = runs[k];
    if (!x) continue;
    const ms = Object.values(x.cpuMs).reduce((a, b) => a + b, 0);
    const n = Math.max(1, x.row.requests);
    const js = x.cpuMs['js (main thread)'] ?? 0;
    report.note(
      `real ${k}: per request ${(ms / n).toFixed(2)} ms of service CPU (JS thread ${(js / n).toFixed(2)} ms), ${(x.readBytesPerRequest / 1024).toFixed(0)} KiB from disk, ${(x.netBytesPerRequest / 1024).toFixed(1)} KiB over HTTP; CPU by thread: ${share(x.cpuMs)}`,
    );
  }
  const s = extra.profile?.summary;
  if (s) {
    const busy = Object.entries(s.byKind).filter(([k]) => k !== 'idle');
    const busyMs = busy.reduce((a, [, v]) => a + v, 0) || 1;
    report.note(
      `real CPU profile (JS thread, ${s.totalMs.toFixed(0)} ms profiled): ${busy
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => `${k} ${((100 * v) / busyMs).toFixed(0)}%`)
        .join(', ')} of its busy time; idle ${(s.byKind.idle ?? 0).toFixed(0)} ms`,
    );
    report.note(
      `real CPU profile top self time: ${s.top
        .slice(0, 10)
        .map((t) => `${t.fn} ${t.where} ${t.selfMs.toFixed(0)} ms`)
        .join('; ')}`,
    );
  }
  part.summary = { openslide: extra.openslide, floor: extra.floor };
}
