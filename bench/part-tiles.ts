/**
 * Part 2, tiles: the service (built, from dist/) against the Camelyon16-geometry slide, then the
 * baselines on the same file and the same tile addresses: plain sharp per request, IIPImage
 * (native 512 px tiles) and OpenSlide's DeepZoom behind Flask (254 px, overlap 1).
 * Cold = random distinct tiles, each run a disjoint chunk; warm = 32 tiles over and over.
 */
import sharp from 'sharp';
import { deepZoomGeometry, tileRead } from '../src/tiles/deepzoom.js';
import { CAMELYON_WIDTH, camelyonLevels } from './camelyon-tiff.js';
import { ANNOTATED_ID, ensureCamelyonData } from './datasets.js';
import { codecFloor } from './codec-floor.js';
import { iipAvailable, startIip } from './iipsrv.js';
import { levelTiles, maskTilePool, Pool, rng, shuffle, type TileAddr } from './lists.js';
import { mb, type LoadRow, type Report } from './report.js';
import {
  buildService,
  ingestJob,
  openslideAvailable,
  probe,
  startBaseline,
  startOpenSlide,
  startService,
  type Server,
} from './servers.js';
import { runWrk } from './wrk.js';

export interface BenchCtx {
  tmpDir: string;
  seconds: number;
}

interface Kind {
  kind: string;
  area: number;
  type: string;
  /** Size of an interior tile as served. */
  size: number;
  path(t: TileAddr): string;
  cold1: TileAddr[];
  cold8: TileAddr[];
  warm: TileAddr[];
}

const WARM_SET = 32;
const TILE_QUALITY = 80;

export async function tilesPart(report: Report, ctx: BenchCtx): Promise<void> {
  const data = await ensureCamelyonData(ctx.tmpDir);
  await ingestJob('ingest', data.serveDir, data.serveIndex);
  await buildService();
  const levels = camelyonLevels().map((l) => ({ ...l, downsample: CAMELYON_WIDTH / l.width }));
  const native = deepZoomGeometry(levels, 512, 0);
  const osd = deepZoomGeometry(levels, 254, 1);
  const max = native.levels.length - 1;
  const rand = rng(2);
  // Pass-through tiles come from the two finest levels (both stored): more distinct tiles.
  const nativePool = new Pool(shuffle([...levelTiles(native, max, rand), ...levelTiles(native, max - 1, rand)], rand));
  const osdPool = new Pool(levelTiles(osd, max, rand));
  const maskPool = new Pool(maskTilePool(native, rand));
  const id = ANNOTATED_ID;
  const image = (t: TileAddr) => `/slides/${id}/image_files/${t.level}/${t.col}_${t.row}.jpeg`;
  const mk = (
    kind: string,
    tile: number,
    type: string,
    path: (t: TileAddr) => string,
    pool: Pool<TileAddr>,
    n1: number,
    n8: number | null,
  ): Kind => {
    const cold1 = pool.take(n1);
    const cold8 = n8 === null ? pool.rest() : pool.take(n8);
    return {
      kind,
      area: tile * tile,
      type,
      size: type === 'image/png' || tile === 512 ? tile : tile + 2,
      path,
      cold1,
      cold8,
      warm: cold8.slice(0, WARM_SET),
    };
  };
  const kinds = {
    native: mk('image native 512', 512, 'image/jpeg', image, nativePool, 50_000, null),
    osd: mk(
      'image OpenSlide 254+1',
      254,
      'image/jpeg',
      (t) => `${image(t)}?tileSize=254&overlap=1`,
      osdPool,
      20_000,
      60_000,
    ),
    raw: mk(
      'mask raw 512',
      512,
      'image/png',
      (t) => `/slides/${id}/mask_files/${t.level}/${t.col}_${t.row}.png?style=raw`,
      maskPool,
      32_000,
      22_000,
    ),
    color: mk(
      'mask color 512',
      512,
      'image/png',
      (t) => `/slides/${id}/mask_files/${t.level}/${t.col}_${t.row}.png?style=color`,
      maskPool,
      18_000,
      null,
    ),
  };
  const part: Record<string, unknown> = { slide: data.slidePath, dzLevels: native.levels.length, maxLevel: max };
  report.parts.tiles = part;

  const run = async (
    s: Server,
    k: Kind,
    pattern: 'cold' | 'warm',
    conns: number,
    path: (t: TileAddr) => string = k.path,
    area = k.area,
  ): Promise<LoadRow> => {
    const list = pattern === 'warm' ? k.warm : conns === 1 ? k.cold1 : k.cold8;
    s.assertAlive();
    const w = await runWrk({
      base: s.base,
      paths: list.map(path),
      connections: conns,
      seconds: ctx.seconds,
      tmpDir: ctx.tmpDir,
      label: `${s.name} ${k.kind} ${pattern} c${conns}`,
    }).catch((e: unknown) => {
      s.assertAlive();
      throw e;
    });
    s.assertAlive();
    return report.load('tiles', s.name, k.kind, pattern, area, w);
  };
  /** One request per kind first: a wrong status, type or size stops the part with the request. */
  const check = async (s: Server, url: string, type: string, size: number) => {
    const p = await probe(url, type);
    const m = await sharp(p.bytes).metadata();
    if (m.width !== size || m.height !== size)
      throw new Error(`${url}: ${m.width}x${m.height}, expected ${size}x${size}`);
  };

  // --- the service ---
  process.stderr.write('tiles: service ...\n');
  const svc = await startService(data.serveDir, data.serveIndex);
  const results: Record<string, Record<string, LoadRow>> = {};
  const keep = (server: string, k: Kind, pattern: string, row: LoadRow) =>
    ((results[server] ??= {})[`${k.kind}|${pattern}|${row.connections}`] = row);
  try {
    for (const k of Object.values(kinds)) await check(svc, svc.base + k.path(k.warm[0]!), k.type, k.size);
    const before = svc.rss();
    const series: number[] = [];
    for (const k of Object.values(kinds)) {
      for (const [pattern, conns] of [
        ['cold', 1],
        ['cold', 8],
        ['warm', 1],
        ['warm', 8],
      ] as const) {
        const row = keep('service', k, pattern, await run(svc, k, pattern, conns));
        if (k === kinds.native && row.wrapped && pattern === 'cold')
          report.note(
            `service native c${conns}: the list of ${row.listSize} distinct tiles was walked more than once; pass-through keeps no rendered cache, so repeats cost the same`,
          );
        series.push(Math.round((svc.rss()?.rss ?? 0) / 1048576));
      }
    }
    const after = svc.rss();
    part.serviceRss = { before, after, afterEachRunMiB: series };
    report.note(
      `service RSS (MiB) before the tile runs ${Math.round((before?.rss ?? 0) / 1048576)}, then after each of the 16 runs: ${series.join(', ')}`,
    );
    report.value('tiles', 'service RSS before load', 'MiB', before ? before.rss / 1048576 : null, null);
    report.value(
      'tiles',
      'service RSS after all tile runs',
      'MiB',
      after ? after.rss / 1048576 : null,
      null,
      after ? `peak ${mb(after.peak)}; caches by default: rendered tiles 256 MiB, label tiles 128 MiB` : undefined,
    );
  } finally {
    await svc.stop();
  }

  // --- the codec floor of the 254/1 geometry: decode alone, in-process, on the same cold list ---
  process.stderr.write('tiles: codec floor (in-process decode of the 254/1 tiles) ...\n');
  const floor = await codecFloor(data.slidePath, osd, kinds.osd.cold8, ctx.seconds, TILE_QUALITY);
  part.codecFloor = floor;

  // --- the same service decoding with libvips (NATIVE_JPEG=false): what the native decoder brings ---
  process.stderr.write('tiles: service, libvips decode ...\n');
  const vipsSvc = await startService(data.serveDir, data.serveIndex, {
    name: 'service (libvips decode)',
    env: { NATIVE_JPEG: 'false' },
  });
  try {
    await check(vipsSvc, vipsSvc.base + kinds.osd.path(kinds.osd.warm[0]!), kinds.osd.type, kinds.osd.size);
    keep('service-vips', kinds.osd, 'cold', await run(vipsSvc, kinds.osd, 'cold', 8));
  } finally {
    await vipsSvc.stop();
  }

  // --- baselines ---
  const slides: Array<[string, string]> = [[id, data.slidePath]];
  process.stderr.write('tiles: baseline sharp per request ...\n');
  const base = await startBaseline(slides);
  try {
    for (const k of [kinds.native, kinds.osd]) {
      await check(base, base.base + k.path(k.warm[0]!), k.type, k.size);
      for (const [pattern, conns] of [
        ['cold', 1],
        ['cold', 8],
        ['warm', 8],
      ] as const)
        keep('sharp', k, pattern, await run(base, k, pattern, conns));
    }
  } finally {
    await base.stop();
  }
  if (iipAvailable()) {
    process.stderr.write('tiles: IIPImage ...\n');
    const iip = await startIip({
      dir: data.serveDir + '/slides',
      tmpDir: ctx.tmpDir,
      processes: 2,
      jpegQuality: TILE_QUALITY,
      cacheMb: 256,
    });
    const iipSrv: Server = {
      name: 'IIPImage (2 procs)',
      base: iip.base,
      pid: iip.pids[0]!,
      stop: () => iip.stop(),
      rss: () => null,
      assertAlive: () => {},
    };
    try {
      const path = (t: TileAddr) => iip.tilePath(`${id}.tif`, t.level, t.col, t.row);
      const dzi = (await probe(iip.base + iip.dziPath(`${id}.tif`), '')).bytes.toString();
      if (!/TileSize="512"/.test(dzi)) report.note(`IIPImage DZI: ${dzi.replace(/\s+/g, ' ')}`);
      await check(iipSrv, iip.base + path(kinds.native.warm[0]!), 'image/jpeg', 512);
      part.iipsrv = { opened: true, dzi: dzi.replace(/\s+/g, ' ') };
      for (const [pattern, conns] of [
        ['cold', 1],
        ['cold', 8],
        ['warm', 8],
      ] as const)
        keep('iip', kinds.native, pattern, await run(iipSrv, kinds.native, pattern, conns, path));
      // The same work as the 254/1 geometry: IIPImage has no such DeepZoom geometry, but serves
      // the same level-0 rectangles through IIIF (decode the tiles under them, crop, encode).
      const region = (t: TileAddr) => {
        const r = tileRead(osd, levels, t.level, t.col, t.row)!;
        return iip.regionPath(`${id}.tif`, r.l0X, r.l0Y, r.lWidth, r.lHeight);
      };
      await check(iipSrv, iip.base + region(kinds.osd.warm[0]!), 'image/jpeg', kinds.osd.size);
      keep('iip-regions', kinds.osd, 'cold', await run(iipSrv, kinds.osd, 'cold', 8, region));
    } catch (e) {
      report.note(`IIPImage could not serve the Camelyon16-geometry BigTIFF: ${(e as Error).message}`);
    } finally {
      await iip.stop();
    }
  } else report.note('IIPImage (iipsrv, spawn-fcgi, lighttpd) not installed: not measured');
  if (openslideAvailable()) {
    process.stderr.write('tiles: OpenSlide + Flask ...\n');
    try {
      const os = await startOpenSlide(slides, TILE_QUALITY);
      try {
        await check(os, os.base + kinds.osd.path(kinds.osd.warm[0]!), 'image/jpeg', kinds.osd.size);
        part.openslide = { opened: true };
        for (const [pattern, conns] of [
          ['cold', 1],
          ['cold', 8],
          ['warm', 8],
        ] as const)
          keep('openslide', kinds.osd, pattern, await run(os, kinds.osd, pattern, conns));
      } finally {
        await os.stop();
      }
    } catch (e) {
      report.note(`OpenSlide could not serve the Camelyon16-geometry BigTIFF: ${(e as Error).message}`);
    }
  } else report.note('python3-openslide / python3-flask not installed: OpenSlide not measured');

  // --- comparisons ---
  const get = (server: string, k: Kind, pattern: string, conns: number) =>
    results[server]?.[`${k.kind}|${pattern}|${conns}`] ?? null;
  const px = (r: LoadRow | null) => (r ? r.pxPerSec / 1e6 : null);
  const tps = (r: LoadRow | null) => (r ? r.rps : null);
  const sN = get('service', kinds.native, 'cold', 8);
  const sO = get('service', kinds.osd, 'cold', 8);
  const iN = get('iip', kinds.native, 'cold', 8);
  report.ratio('tiles', 'native 512 cold c8 pixels/s vs IIPImage 512', 'Mpx/s', px(sN), 'IIPImage 2 procs', px(iN), 2);
  report.ratio(
    'tiles',
    'OpenSlide-geometry cold c8 pixels/s vs IIPImage',
    'Mpx/s',
    px(sO),
    'IIPImage 2 procs',
    px(iN),
    1,
  );
  // What no server can beat here: the 254/1 tiles' pixels decoded in-process, without HTTP or encode.
  const floorPx = (perSec: number | undefined) => (perSec === undefined ? null : (perSec * kinds.osd.area) / 1e6);
  report.ratio(
    'tiles',
    'codec floor 254/1: decode alone, 2 cores by CPU time',
    'Mpx/s',
    floorPx(floor?.decode.twoCoreTilesPerSec),
    'IIPImage 2 procs',
    px(iN),
    null,
    floor ? `${floor.decode.cpuMsPerTile.toFixed(2)} ms CPU a tile` : undefined,
  );
  report.ratio(
    'tiles',
    'codec floor 254/1: decode + encode, 2 cores by CPU time',
    'Mpx/s',
    floorPx(floor?.decodeAndEncode.twoCoreTilesPerSec),
    'IIPImage 2 procs',
    px(iN),
    null,
    floor
      ? `${floor.decodeAndEncode.cpuMsPerTile.toFixed(2)} ms CPU a tile; wall clock ${Math.round(floor.decodeAndEncode.tilesPerSec)} tiles/s`
      : undefined,
  );
  report.ratio(
    'tiles',
    'OpenSlide-geometry cold c8 tiles/s',
    'tiles/s',
    tps(sO),
    'IIPImage, same rectangles (IIIF)',
    tps(get('iip-regions', kinds.osd, 'cold', 8)),
    null,
  );
  report.ratio(
    'tiles',
    'OpenSlide-geometry cold c8 tiles/s',
    'tiles/s',
    tps(sO),
    'service decoding with libvips',
    tps(get('service-vips', kinds.osd, 'cold', 8)),
    null,
  );
  report.ratio(
    'tiles',
    'OpenSlide-geometry cold c8 tiles/s',
    'tiles/s',
    tps(sO),
    'OpenSlide+Flask',
    tps(get('openslide', kinds.osd, 'cold', 8)),
    null,
  );
  report.ratio(
    'tiles',
    'native 512 cold c8 tiles/s',
    'tiles/s',
    tps(sN),
    'sharp per request',
    tps(get('sharp', kinds.native, 'cold', 8)),
    null,
  );
  report.ratio(
    'tiles',
    'OpenSlide-geometry cold c8 tiles/s',
    'tiles/s',
    tps(sO),
    'sharp per request',
    tps(get('sharp', kinds.osd, 'cold', 8)),
    null,
  );
  report.ratio(
    'tiles',
    'OpenSlide-geometry warm c8 tiles/s',
    'tiles/s',
    tps(get('service', kinds.osd, 'warm', 8)),
    'OpenSlide+Flask',
    tps(get('openslide', kinds.osd, 'warm', 8)),
    null,
  );
  report.ratio(
    'tiles',
    'native 512 warm c8 pixels/s',
    'Mpx/s',
    px(get('service', kinds.native, 'warm', 8)),
    'IIPImage 2 procs',
    px(get('iip', kinds.native, 'warm', 8)),
    null,
  );
  for (const k of [kinds.raw, kinds.color])
    report.value('tiles', `${k.kind} cold c8 tiles/s`, 'tiles/s', tps(get('service', k, 'cold', 8)), { min: 1000 });
  for (const k of Object.values(kinds))
    report.value('tiles', `${k.kind} cold c8 p99`, 'ms', get('service', k, 'cold', 8)?.p99Ms ?? null, { max: 25 });
}
