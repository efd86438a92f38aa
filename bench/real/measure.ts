/**
 * One cold measurement of the real-size part: the page cache dropped right before it (or, when it
 * cannot be, the run labelled WARM), then a wrk load of a list that does not repeat, with the
 * bytes the measured process tree made the disk read, its threads' CPU time, its RSS and what the
 * page cache held of the slides afterwards.
 */
import { runWrk } from '../wrk.js';
import type { LoadRow, Report } from '../report.js';
import { diffCpu, dropPageCache, pageCacheBytes, processTree, readBytes, threadCpuMs, treeRss } from './proc-stats.js';
import type { OpenSlidePatches } from '../servers.js';

export interface ColdState {
  /** Whether cold runs are possible (the page cache could be dropped at the start). */
  canDrop: boolean;
  /** The slide files, for the page-cache figures. */
  files: string[];
  tmpDir: string;
  seconds: number;
}

export interface ColdRun {
  label: string;
  cold: boolean;
  row: LoadRow;
  readBytes: number;
  readBytesPerRequest: number;
  /** HTTP bytes received per response (headers included): what the network card carries. */
  netBytesPerRequest: number;
  pageCacheBefore: number | null;
  pageCacheAfter: number | null;
  rss: { rss: number; peak: number };
  cpuMs: Record<string, number>;
  /** When the load ran, in microseconds of the monotonic clock (for the CPU profile's samples). */
  windowUs: { fromUs: number; toUs: number };
}

export type Runs = Record<string, ColdRun>;

/** bench/openslide_patches.py's answer, and whether its run was cold. */
export type OpenSlideRun = OpenSlidePatches & { cold: boolean };

export interface Target {
  name: string;
  base: string;
  /** The pids whose disk reads, CPU and RSS count (a service's tree; iipsrv's processes). */
  pids(): number[];
  assertAlive(): void;
}

/** Drops the page cache if cold runs are possible; says whether the next run is cold. */
export function goCold(st: ColdState): boolean {
  return st.canDrop && dropPageCache();
}

export async function coldLoad(
  report: Report,
  st: ColdState,
  t: Target,
  kind: string,
  paths: string[],
  area: number,
): Promise<ColdRun> {
  t.assertAlive();
  const cold = goCold(st);
  const before = pageCacheBytes(st.files);
  const pids0 = t.pids();
  const rb0 = readBytes(pids0);
  const cpu0 = threadCpuMs(pids0);
  const fromUs = Number(process.hrtime.bigint() / 1000n);
  const w = await runWrk({
    base: t.base,
    paths,
    connections: 8,
    seconds: st.seconds,
    tmpDir: st.tmpDir,
    label: `${t.name} ${kind}`,
  }).catch((e: unknown) => {
    t.assertAlive();
    throw e;
  });
  const toUs = Number(process.hrtime.bigint() / 1000n);
  t.assertAlive();
  const pids1 = t.pids();
  const rb = readBytes(pids1) - rb0;
  const cpuMs = diffCpu(threadCpuMs(pids1), cpu0);
  const after = pageCacheBytes(st.files);
  const row = report.load('real', t.name, kind, cold ? 'cold' : 'WARM', area, w);
  if (w.wrapped) report.note(`${t.name} ${kind}: the list of ${w.listSize} was walked more than once (repeats)`);
  return {
    label: `${t.name} ${kind}`,
    cold,
    row,
    readBytes: rb,
    readBytesPerRequest: rb / Math.max(1, w.requests),
    netBytesPerRequest: w.bytes / Math.max(1, w.requests),
    pageCacheBefore: before?.resident ?? null,
    pageCacheAfter: after?.resident ?? null,
    rss: treeRss(pids1),
    cpuMs,
    windowUs: { fromUs, toUs },
  };
}

/** A Target over a service's process tree. */
export function treeTarget(s: { name: string; base: string; pid: number; assertAlive(): void }): Target {
  return { name: s.name, base: s.base, pids: () => processTree(s.pid), assertAlive: () => s.assertAlive() };
}
