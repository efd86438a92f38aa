/**
 * Part `real`: the service on real-size slides (4 Camelyon16-geometry BigTIFFs, every tile
 * distinct, ~1-2 GB each; dataset.ts), cold. Before each measurement the page cache is dropped
 * (root); a run that could not drop it is labelled WARM and the report says so loudly.
 *
 * In one run: 256 px patches at level 0 and at 0.5 um/px from the real NCRF centres; native 512
 * and rendered 254/1 DeepZoom tiles; 8 connections (wrk); the service pinned to 1 core with
 * WORKERS=1 and to 2 cores with WORKERS=2 (scaling); OpenSlide read_region in-process with as many
 * processes as cores on the same patch list; IIPImage on the same native tiles; the codec floor
 * (in-process decode + encode of the same patch list); the disk alone (cold preads of the same
 * tiles, 1 and 8 in flight); bytes read from disk per request; the page
 * cache afterwards; the service's RSS; its threads' CPU; a CPU profile of its JavaScript thread.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { iipAvailable, startIip } from '../iipsrv.js';
import type { Report } from '../report.js';
import { buildService, ingestJob, openslideAvailable, openslidePatches, probe } from '../servers.js';
import type { BenchCtx } from '../part-tiles.js';
import { ensureRealData, type RealData } from './dataset.js';
import type { Patch } from './geometry.js';
import { openslideRead, PATCH_SIZE, realPatchList, realTileList, regionUrl, tileUrl, type SlideTile } from './lists.js';
import { coldLoad, goCold, treeTarget, type ColdRun, type ColdState, type OpenSlideRun, type Runs } from './measure.js';
import { patchFloor } from './patch-floor.js';
import { diskRun, tileReads, type DiskRun } from './disk.js';
import { dropPageCache } from './proc-stats.js';
import { summariseProfiles, type CpuProfile } from './profile.js';
import { startRealService, tasksetAvailable, type RealServiceOptions } from './service.js';
import { recordResults } from './results.js';

export interface Lists {
  patches: Patch[];
  native: SlideTile[];
  rendered: SlideTile[];
}

export async function realPart(report: Report, ctx: BenchCtx): Promise<void> {
  const data = await ensureRealData();
  await ingestJob('ingest', data.dir, data.index);
  await buildService();
  if (!tasksetAvailable()) throw new Error('taskset (util-linux) is needed to pin the service to cores');
  const canDrop = dropPageCache();
  if (!canDrop)
    report.note(
      '!!! real: the page cache could NOT be dropped (not root?): every "real" figure below is WARM (labelled so), NOT a cold measurement !!!',
    );
  const st: ColdState = { canDrop, files: data.slides.map((s) => s.path), tmpDir: ctx.tmpDir, seconds: ctx.seconds };
  const lists: Lists = {
    patches: realPatchList(data.slides),
    native: realTileList(data.slides, 512, 0, 5),
    rendered: realTileList(data.slides, 254, 1, 6),
  };
  const part = describe(data, lists, canDrop);
  report.parts.real = part;
  const runs: Runs = {};
  const extra: Record<string, unknown> = {};
  part.runs = runs;
  part.extra = extra;
  const svc = (name: string, cpusList: string, workers: number, prof?: string): RealServiceOptions => ({
    name,
    dataDir: data.dir,
    index: data.index,
    cpus: cpusList,
    workers,
    cpuProfDir: prof,
  });
  const one = svc('service 1 core W1', '0', 1);
  const two = svc('service 2 cores W2', '0,1', 2);
  const loads = serviceLoads(lists);
  for (const k of ['L0', 'rendered'] as const) runs[`1c ${k}`] = await serviceRun(report, st, one, loads[k]);
  for (const k of ['L0', 'mpp', 'native', 'rendered'] as const)
    runs[`2c ${k}`] = await serviceRun(report, st, two, loads[k]);
  await scalingRepeats(report, st, { one, two }, loads, runs);
  extra.profile = await profiledRun(
    report,
    st,
    svc('service 2 cores W2 --cpu-prof', '0,1', 2, join(ctx.tmpDir, 'prof')),
    loads.L0,
  );
  extra.openslide = await openslideRuns(st, data, lists.patches);
  extra.iip = await iipRun(report, st, data, lists.native);
  process.stderr.write('real: codec floor (in-process decode + encode of the same patch list) ...\n');
  const floorCold = goCold(st);
  const paths = Object.fromEntries(data.slides.map((s) => [s.id, s.path]));
  extra.floor = { cold: floorCold, ...(await patchFloor(paths, lists.patches, PATCH_SIZE, ctx.seconds)) };
  process.stderr.write('real: disk alone (preads of the stored tiles under the patches, 1 and 8 in flight) ...\n');
  const reads = tileReads(paths, lists.patches);
  const disk: Array<DiskRun & { cold: boolean }> = [];
  for (const depth of [1, 8]) {
    const cold = goCold(st);
    disk.push({ cold, ...(await diskRun(reads, depth, Math.min(5, ctx.seconds))) });
  }
  extra.disk = disk;
  part.loadAverageEnd = loadavg();
  recordResults(report, part, runs, extra);
}

function describe(data: RealData, lists: Lists, canDrop: boolean): Record<string, unknown> {
  const bytes = data.slides.reduce((a, s) => a + s.bytes, 0);
  const genS = Object.values(data.generation).reduce((a, g) => a + g.ms / 1000, 0);
  return {
    dir: data.dir,
    slides: data.slides.map((s) => ({ id: s.id, width: s.width, height: s.height, mpp: s.mpp, bytes: s.bytes })),
    diskBytes: bytes,
    generationSeconds: genS,
    generation: data.generation,
    writtenNow: data.writtenNow,
    cold: canDrop ? 'page cache dropped (sync; echo 1 > /proc/sys/vm/drop_caches) before each measurement' : 'WARM',
    pageCacheTool: 'fincore (util-linux, mincore(2))',
    lists: { patches: lists.patches.length, nativeTiles: lists.native.length, renderedTiles: lists.rendered.length },
    cpus: cpus().length,
    loadAverageStart: loadavg(),
  };
}

interface Load {
  kind: string;
  type: string;
  size: number;
  area: number;
  paths: string[];
}

function serviceLoads(l: Lists): Record<'L0' | 'mpp' | 'native' | 'rendered', Load> {
  const P = PATCH_SIZE;
  return {
    L0: {
      kind: 'patch 256 L0',
      type: 'image/jpeg',
      size: P,
      area: P * P,
      paths: l.patches.map((p) => regionUrl(p, null)),
    },
    mpp: {
      kind: 'patch 256 0.5um',
      type: 'image/jpeg',
      size: P,
      area: P * P,
      paths: l.patches.map((p) => regionUrl(p, 0.5)),
    },
    native: {
      kind: 'tile native 512',
      type: 'image/jpeg',
      size: 512,
      area: 512 * 512,
      paths: l.native.map((t) => tileUrl(t, false)),
    },
    rendered: {
      kind: 'tile 254/1',
      type: 'image/jpeg',
      size: 256,
      area: 254 * 254,
      paths: l.rendered.map((t) => tileUrl(t, true)),
    },
  };
}

/** One request first (the list's last entry, which the load never reaches): wrong answers stop the part. */
async function check(base: string, path: string, type: string, size: number): Promise<void> {
  const p = await probe(base + path, type);
  const m = await sharp(p.bytes).metadata();
  if (m.width !== size || m.height !== size)
    throw new Error(`${base + path}: ${m.width}x${m.height}, expected ${size}`);
}

async function serviceRun(report: Report, st: ColdState, o: RealServiceOptions, l: Load): Promise<ColdRun> {
  process.stderr.write(`real: ${o.name}: ${l.kind} ...\n`);
  const s = await startRealService(o);
  try {
    await check(s.base, l.paths[l.paths.length - 1]!, l.type, l.size);
    return await coldLoad(report, st, treeTarget(s), l.kind, l.paths.slice(0, -1), l.area);
  } finally {
    await s.stop();
  }
}

/** Cold pairs of the scaling runs after the first: SCALING_PAIRS in all, for each kind. */
export const SCALING_PAIRS = 3;

/**
 * Two more cold 1-core / 2-core pairs for each scaling load. One cold run's rate swings by up to
 * +-15% here from one run to the next (the disk of a shared VM); a single pair read that swing as
 * scaling (session 6: 0.74-0.86 over three runs). Each further pair starts on its own part of the
 * list (nothing read by an earlier pair), and they alternate which configuration goes first, so
 * drift favours neither; results.ts takes the medians of the rates.
 */
async function scalingRepeats(
  report: Report,
  st: ColdState,
  svcs: { one: RealServiceOptions; two: RealServiceOptions },
  loads: Record<'L0' | 'mpp' | 'native' | 'rendered', Load>,
  runs: Runs,
): Promise<void> {
  for (let pair = 2; pair <= SCALING_PAIRS; pair++) {
    for (const k of ['L0', 'rendered'] as const) {
      const load = rotated(loads[k], (pair - 1) / SCALING_PAIRS);
      const order = pair % 2 === 0 ? (['2c', '1c'] as const) : (['1c', '2c'] as const);
      for (const c of order)
        runs[`${c} ${k} #${pair}`] = await serviceRun(report, st, c === '1c' ? svcs.one : svcs.two, load);
    }
  }
}

/** The load's list started `share` of the way in (wrapping); the last entry stays last (serviceRun's check). */
function rotated(l: Load, share: number): Load {
  const body = l.paths.slice(0, -1);
  const at = Math.floor(body.length * share);
  return { ...l, paths: [...body.slice(at), ...body.slice(0, at), l.paths[l.paths.length - 1]!] };
}

async function profiledRun(report: Report, st: ColdState, o: RealServiceOptions, l: Load): Promise<unknown> {
  const run = await serviceRun(report, st, o, l);
  const dir = o.cpuProfDir!;
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')) : [];
  if (files.length === 0) {
    report.note('real: the profiled service wrote no CPU profile (did it exit cleanly on SIGTERM?)');
    return { run: run.label, profiles: 0 };
  }
  const profiles = files.map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as CpuProfile);
  let summary = summariseProfiles(profiles, 15, run.windowUs);
  if (summary.totalMs === 0) {
    report.note('real: no profile sample fell inside the load window: the profile summary covers the whole process');
    summary = summariseProfiles(profiles);
  }
  return {
    run: run.label,
    rps: run.row.rps,
    profiles: files.length,
    summary,
    cpuMs: run.cpuMs,
  };
}

async function openslideRuns(
  st: ColdState,
  data: RealData,
  patches: Patch[],
): Promise<Record<string, OpenSlideRun> | null> {
  if (!openslideAvailable()) return null;
  const procs = cpus().length;
  const out: Record<string, OpenSlideRun> = {};
  for (const mpp of [null, 0.5]) {
    const key = mpp === null ? 'L0' : 'mpp';
    process.stderr.write(`real: OpenSlide read_region in-process x${procs}, ${key} ...\n`);
    const coords = join(st.tmpDir, `openslide-real-${key}.txt`);
    const lines = patches.map((p) => {
      const s = data.slides.find((x) => x.id === p.id)!;
      const r = openslideRead(s, p, mpp);
      return `${s.path},${p.x},${p.y},${r.level},${r.read},${r.out}`;
    });
    writeFileSync(coords, lines.join('\n') + '\n');
    const cold = goCold(st);
    out[key] = { ...(await openslidePatches(`openslide_patches ${key}`, coords, procs, st.seconds)), cold };
  }
  return out;
}

async function iipRun(report: Report, st: ColdState, data: RealData, tiles: SlideTile[]): Promise<ColdRun | null> {
  if (!iipAvailable()) {
    report.note('real: IIPImage (iipsrv, spawn-fcgi, lighttpd) not installed: not measured');
    return null;
  }
  process.stderr.write('real: IIPImage 2 procs, native tiles ...\n');
  const iip = await startIip({
    dir: join(data.dir, 'slides'),
    tmpDir: st.tmpDir,
    processes: 2,
    jpegQuality: 75,
    cacheMb: 0,
  });
  try {
    const path = (t: SlideTile) => iip.tilePath(`${t.id}.tif`, t.level, t.col, t.row);
    await check(iip.base, path(tiles[tiles.length - 1]!), 'image/jpeg', 512);
    const target = { name: 'IIPImage 2 procs', base: iip.base, pids: () => iip.pids, assertAlive: () => {} };
    return await coldLoad(report, st, target, 'tile native 512', tiles.slice(0, -1).map(path), 512 * 512);
  } finally {
    await iip.stop();
  }
}
