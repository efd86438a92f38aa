/**
 * Part `iiif`: the service's IIIF Image API on the Camelyon16-geometry slide, in one run with
 * what it is compared to:
 * - aligned IIIF tiles (a stored tile's region at its size: passthrough) against the service's
 *   own native DeepZoom tiles, on disjoint lists of the same two finest levels (target >= 0.9x);
 * - 512 px regions at arbitrary level-0 positions, jpg, against IIPImage's IIIF endpoint on the
 *   very same rectangles (target >= 1.5x).
 * Cold lists only (distinct URLs, never repeated in a run), 8 connections. The regions runs also
 * read the CPU time of each side's processes (/proc), so the cost per region can be compared on a
 * busy machine, where rates swing with other work.
 */
import sharp from 'sharp';
import { deepZoomGeometry } from '../src/tiles/deepzoom.js';
import { CAMELYON_HEIGHT, CAMELYON_WIDTH, camelyonLevels } from './camelyon-tiff.js';
import { ANNOTATED_ID, ensureCamelyonData } from './datasets.js';
import { iipAvailable, startIip } from './iipsrv.js';
import { levelTiles, Pool, rng, shuffle, type TileAddr } from './lists.js';
import type { LoadRow, Report } from './report.js';
import { buildService, ingestJob, probe, startService, type Server } from './servers.js';
import type { BenchCtx } from './part-tiles.js';
import { runWrk } from './wrk.js';
import { processTree, threadCpuMs } from './real/proc-stats.js';

const TILE = 512;
const REGION = 512;
/** Distinct URLs per list: more than 8 connections fetch in a 10 s run at these rates. */
const LIST = 60_000;
const REGIONS = 40_000;
const QUALITY = 80;

export async function iiifPart(report: Report, ctx: BenchCtx): Promise<void> {
  const data = await ensureCamelyonData(ctx.tmpDir);
  await ingestJob('ingest', data.serveDir, data.serveIndex);
  await buildService();
  const id = ANNOTATED_ID;
  const levels = camelyonLevels().map((l) => ({ ...l, downsample: CAMELYON_WIDTH / l.width }));
  const native = deepZoomGeometry(levels, TILE, 0);
  const max = native.levels.length - 1;
  const rand = rng(15);
  // Whole tiles only: edge tiles are smaller and are not one stored tile in either API.
  const whole = (t: TileAddr) => {
    const span = TILE * 2 ** (max - t.level);
    return (t.col + 1) * span <= CAMELYON_WIDTH && (t.row + 1) * span <= CAMELYON_HEIGHT;
  };
  const pool = new Pool(
    shuffle([...levelTiles(native, max, rand), ...levelTiles(native, max - 1, rand)].filter(whole), rand),
  );
  const dzList = pool.take(LIST);
  const iiifList = pool.take(LIST);
  const dzPath = (t: TileAddr) => `/slides/${id}/image_files/${t.level}/${t.col}_${t.row}.jpeg`;
  const alignedPath = (t: TileAddr) => {
    const span = TILE * 2 ** (max - t.level);
    return `/iiif/3/${id}/${t.col * span},${t.row * span},${span},${span}/${TILE},${TILE}/0/default.jpg`;
  };
  const at = (side: number) => Math.floor(rand() * (side - REGION));
  const rects = Array.from({ length: REGIONS }, () => ({ x: at(CAMELYON_WIDTH), y: at(CAMELYON_HEIGHT) }));
  const regionPath = (r: { x: number; y: number }) =>
    `/iiif/3/${id}/${r.x},${r.y},${REGION},${REGION}/max/0/default.jpg`;
  const part: Record<string, unknown> = { slide: data.slidePath, lists: { tiles: LIST, regions: REGIONS } };
  report.parts.iiif = part;

  /** CPU ms of these processes and their children, all threads. */
  const cpuOf = (pids: number[]) => [...threadCpuMs(pids.flatMap(processTree)).values()].reduce((a, b) => a + b, 0);
  const cpuPerRequest: Record<string, number> = {};
  part.cpuMsPerRegion = cpuPerRequest;
  const run = async (s: Server, label: string, paths: string[], area: number, cpuPids?: number[]) => {
    const c0 = cpuPids ? cpuOf(cpuPids) : 0;
    const row = await load(s, label, paths, area);
    if (cpuPids) {
      cpuPerRequest[s.name] = (cpuOf(cpuPids) - c0) / Math.max(1, row.requests);
      report.note(`iiif: ${s.name}, ${label}: ${cpuPerRequest[s.name]!.toFixed(2)} ms of CPU a request`);
    }
    return row;
  };
  const load = async (s: Server, label: string, paths: string[], area: number): Promise<LoadRow> => {
    s.assertAlive();
    const w = await runWrk({
      base: s.base,
      paths,
      connections: 8,
      seconds: ctx.seconds,
      tmpDir: ctx.tmpDir,
      label: `${s.name} ${label}`,
    });
    s.assertAlive();
    return report.load('iiif', s.name, label, 'cold', area, w);
  };
  const check = async (url: string, size: number, same?: Buffer) => {
    const p = await probe(url, 'image/jpeg');
    const m = await sharp(p.bytes).metadata();
    if (m.width !== size || m.height !== size)
      throw new Error(`${url}: ${m.width}x${m.height}, expected ${size}x${size}`);
    if (same && !same.equals(p.bytes)) throw new Error(`${url}: not the stored tile's bytes`);
    return p.bytes;
  };

  process.stderr.write('iiif: service ...\n');
  const svc = await startService(data.serveDir, data.serveIndex);
  let dz: LoadRow;
  let aligned: LoadRow;
  let regions: LoadRow;
  try {
    // An aligned IIIF request is the DeepZoom native tile, byte for byte.
    await check(svc.base + alignedPath(dzList[0]!), TILE, await check(svc.base + dzPath(dzList[0]!), TILE));
    await check(svc.base + regionPath(rects[0]!), REGION);
    dz = await run(svc, 'DeepZoom native 512 tiles', dzList.map(dzPath), TILE * TILE);
    aligned = await run(svc, 'IIIF aligned 512 tiles', iiifList.map(alignedPath), TILE * TILE);
    const label = 'IIIF 512 px regions, arbitrary positions';
    regions = await run(svc, label, rects.map(regionPath), REGION * REGION, [svc.pid]);
  } finally {
    await svc.stop();
  }
  report.ratio('iiif', 'aligned IIIF tiles cold c8', 'tiles/s', aligned.rps, 'service DeepZoom native', dz.rps, 0.9);

  let iip: LoadRow | null = null;
  if (iipAvailable()) {
    process.stderr.write('iiif: IIPImage ...\n');
    const srv = await startIip({
      dir: `${data.serveDir}/slides`,
      tmpDir: ctx.tmpDir,
      processes: 2,
      jpegQuality: QUALITY,
      cacheMb: 256,
    });
    const iipSrv: Server = {
      name: 'IIPImage (2 procs)',
      base: srv.base,
      pid: srv.pids[0]!,
      stop: () => srv.stop(),
      rss: () => null,
      assertAlive: () => {},
    };
    try {
      const path = (r: { x: number; y: number }) => srv.regionPath(`${id}.tif`, r.x, r.y, REGION, REGION);
      await check(srv.base + path(rects[0]!), REGION);
      iip = await run(iipSrv, 'IIIF 512 px regions, arbitrary positions', rects.map(path), REGION * REGION, srv.pids);
    } finally {
      await srv.stop();
    }
  } else
    report.note('IIPImage (iipsrv, spawn-fcgi, lighttpd) not installed: the IIIF region comparison is not measured');
  report.ratio(
    'iiif',
    '512 px regions, arbitrary positions, jpg, cold c8',
    'regions/s',
    regions.rps,
    'IIPImage IIIF, same rects',
    iip?.rps ?? null,
    1.5,
  );
}
