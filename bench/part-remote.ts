/**
 * Part `remote`: the service reading its dataset from object storage through the fault proxy with
 * 10 ms added to every request (a round trip to a regional bucket), against the same service on
 * the local files, in one run, on the demo dataset (full scale, three slides):
 * - GETs per cold native tile (target <= 1.1 once the slide is open) and per cold 256 px patch
 *   (<= 2), counted by the proxy over sequential cold reads;
 * - cold native tiles and cold 256 px patches at 32 connections: remote >= 50% of local;
 * - ingest of the dataset from the bucket within 2x of the local ingest;
 * - the FUSE-like baseline next to them: the same service reading whole 1 MiB blocks, one GET each,
 *   without coalescing (REMOTE_READ_MODE=blocks), on the same lists.
 * Each service is a fresh process, so every list is cold for each. The S3 server here, s3rver, is
 * a JavaScript test server that answers ~30 requests/s per connection on this machine: it is
 * the store for ingest and GET counts, and its throughput is reported, while the load runs
 * against the 50% target read through nginx (HTTP ranges: the same reader, cache and client;
 * only the SigV4 signature differs), a store that is not itself the bottleneck, as S3 is not.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { generateDemo } from '../src/demo/generate.js';
import { ingest } from '../src/indexer/ingest.js';
import { deepZoomGeometry } from '../src/tiles/deepzoom.js';
import {
  S3_CREDENTIALS,
  remoteSettings,
  startFaultProxy,
  startNginx,
  startS3,
  uploadDir,
  type FaultProxy,
} from '../test/support/remote-stores.js';
import { levelTiles, rng, shuffle, type TileAddr } from './lists.js';
import type { BenchCtx } from './part-tiles.js';
import type { LoadRow, Report } from './report.js';
import { buildService, probe, startService, type Server } from './servers.js';
import { runWrk } from './wrk.js';

/** Demo scale: tumor_001 is 18,432 x 10,240 px; ~1,400 stored 512 px tiles in the two finest levels of the 3 slides. */
const SCALE = 0.5;
const SLIDE = 'tumor_001';
const RTT_MS = 10;
const CONNECTIONS = 32;
const COUNTED = 200;
const PATCH = 256;

export async function remotePart(report: Report, ctx: BenchCtx): Promise<void> {
  const dataDir = join(ctx.tmpDir, 'remote-data');
  process.stderr.write(`remote: demo dataset at scale ${SCALE} ...\n`);
  const demo = await generateDemo({ outDir: dataDir, seed: 1, scale: SCALE });
  const s3 = await startS3();
  const proxy = await startFaultProxy(s3.endpoint);
  const nginx = await startNginx(dataDir);
  const httpProxy = await startFaultProxy(nginx.base);
  const part: Record<string, unknown> = { scale: SCALE, rttMs: RTT_MS, connections: CONNECTIONS };
  report.parts.remote = part;
  try {
    await uploadDir(s3, dataDir, 'ds/');
    proxy.faults.latencyMs = RTT_MS;
    const settings = remoteSettings({ endpoint: proxy.url, credentials: S3_CREDENTIALS });
    const localIndex = join(ctx.tmpDir, 'remote-local.sqlite');
    const remoteIndex = join(ctx.tmpDir, 'remote-s3.sqlite');
    const t0 = performance.now();
    await ingest({ dataDir, indexPath: localIndex });
    const localMs = performance.now() - t0;
    const t1 = performance.now();
    await ingest({ dataDir: 's3://slides/ds', indexPath: remoteIndex, remote: settings });
    const remoteMs = performance.now() - t1;
    part.ingestMs = { local: localMs, remote: remoteMs };
    report.ratio('remote', 'ingest of the demo dataset (time)', 'ms', remoteMs, 'local ingest', localMs, null);
    report.value('remote', 'ingest from the bucket / local ingest', 'x', remoteMs / localMs, { max: 2 });

    await buildService();
    const lists = coldLists(demo.slides);
    const httpIndex = join(ctx.tmpDir, 'remote-http.sqlite');
    httpProxy.faults.latencyMs = RTT_MS;
    await ingest({ dataDir: `${httpProxy.url}/`, indexPath: httpIndex, remote: remoteSettings() });
    const env = {
      S3_ENDPOINT: proxy.url,
      AWS_ACCESS_KEY_ID: S3_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3_CREDENTIALS.secretAccessKey,
    };
    const local = await measure(report, ctx, proxy, lists, () => startService(dataDir, localIndex));
    const onS3 = await measure(report, ctx, proxy, lists, () =>
      startService('s3://slides/ds', remoteIndex, { name: 'service on S3 (s3rver)', env }),
    );
    const remote = await measure(report, ctx, httpProxy, lists, () =>
      startService(`${httpProxy.url}/`, httpIndex, { name: 'service on HTTP ranges (nginx)', env: {} }),
    );
    const fuse = await measure(report, ctx, httpProxy, lists, () =>
      startService(`${httpProxy.url}/`, httpIndex, {
        name: 'FUSE-like (1 MiB blocks, nginx)',
        env: { REMOTE_READ_MODE: 'blocks' },
      }),
    );
    part.s3 = { tilesPerS: onS3.tiles.rps, patchesPerS: onS3.patches.rps, gets: onS3.gets };
    part.getsPer = { remote: remote.gets, fuse: fuse.gets };
    report.value('remote', 'S3: GETs per cold native tile (slide open)', 'GETs', onS3.gets.tile, { max: 1.1001 });
    report.value('remote', 'S3: GETs per cold 256 px patch', 'GETs', onS3.gets.patch, { max: 2.0001 });
    report.value('remote', 'HTTP: GETs per cold native tile (slide open)', 'GETs', remote.gets.tile, { max: 1.1001 });
    report.value('remote', 'HTTP: GETs per cold 256 px patch', 'GETs', remote.gets.patch, { max: 2.0001 });
    report.value('remote', 'FUSE-like: GETs per cold native tile', 'GETs', fuse.gets.tile, null);
    report.value('remote', 'FUSE-like: GETs per cold 256 px patch', 'GETs', fuse.gets.patch, null);
    const c = `cold c${CONNECTIONS}, +${RTT_MS} ms RTT`;
    report.ratio(
      'remote',
      `native tiles, HTTP ranges (nginx), ${c}`,
      'tiles/s',
      remote.tiles.rps,
      'local files',
      local.tiles.rps,
      0.5,
    );
    report.ratio(
      'remote',
      `256 px patches, HTTP ranges (nginx), ${c}`,
      'patches/s',
      remote.patches.rps,
      'local files',
      local.patches.rps,
      0.5,
    );
    report.ratio(
      'remote',
      `native tiles, s3rver, ${c}`,
      'tiles/s',
      onS3.tiles.rps,
      'local files',
      local.tiles.rps,
      null,
    );
    report.ratio(
      'remote',
      `256 px patches, s3rver, ${c}`,
      'patches/s',
      onS3.patches.rps,
      'local files',
      local.patches.rps,
      null,
    );
    report.ratio(
      'remote',
      `FUSE-like native tiles, ${c}`,
      'tiles/s',
      fuse.tiles.rps,
      'local files',
      local.tiles.rps,
      null,
    );
    report.ratio(
      'remote',
      `FUSE-like 256 px patches, ${c}`,
      'patches/s',
      fuse.patches.rps,
      'local files',
      local.patches.rps,
      null,
    );
  } finally {
    await httpProxy.close();
    await nginx.close();
    await proxy.close();
    await s3.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

interface Lists {
  counted: { tiles: string[]; patches: string[] };
  load: { tiles: string[]; patches: string[] };
}

/**
 * Native tiles of the two finest levels of every slide and 256 px level-0 patches, in random
 * order; the counted ones (of tumor_001, level 0) apart from the load lists.
 */
function coldLists(slides: ReadonlyArray<{ id: string; width: number; height: number }>): Lists {
  const rand = rng(12);
  const tilesOf = (s: { id: string; width: number; height: number }, levels: number[]) => {
    const dz = deepZoomGeometry([{ width: s.width, height: s.height, downsample: 1 }], 512, 0);
    const max = dz.levels.length - 1;
    return levels.flatMap((d) =>
      levelTiles(dz, max - d, rand).map(
        (t: TileAddr) => `/slides/${s.id}/image_files/${t.level}/${t.col}_${t.row}.jpeg`,
      ),
    );
  };
  const first = slides.find((s) => s.id === SLIDE)!;
  const counted = shuffle(tilesOf(first, [0]), rand).slice(0, COUNTED);
  const tiles = shuffle(
    slides.flatMap((s) => tilesOf(s, [0, 1])).filter((p) => !counted.includes(p)),
    rand,
  );
  const at = (side: number) => Math.floor(rand() * (side - PATCH));
  const patches = Array.from({ length: 20_000 }, () => {
    const s = slides[Math.floor(rand() * slides.length)]!;
    return `/slides/${s.id}/region?x=${at(s.width)}&y=${at(s.height)}&width=${PATCH}&height=${PATCH}&level=0&format=jpeg`;
  });
  const countedPatches = Array.from(
    { length: COUNTED },
    () =>
      `/slides/${SLIDE}/region?x=${at(first.width)}&y=${at(first.height)}&width=${PATCH}&height=${PATCH}&level=0&format=jpeg`,
  );
  return { counted: { tiles: counted, patches: countedPatches }, load: { tiles, patches } };
}

/** One fresh service: GETs per counted cold read (sequential), then the cold load runs. */
async function measure(report: Report, ctx: BenchCtx, proxy: FaultProxy, lists: Lists, start: () => Promise<Server>) {
  const s = await start();
  try {
    // Opens the slide (HEAD and its directories): not part of the per-tile count.
    await probe(`${s.base}/slides/${SLIDE}/image_files/0/0_0.jpeg`, 'image/jpeg');
    const count = async (paths: string[]) => {
      const before = proxy.counts.GET;
      for (const p of paths) await probe(s.base + p, 'image/jpeg');
      return (proxy.counts.GET - before) / paths.length;
    };
    const gets = { tile: await count(lists.counted.tiles), patch: await count(lists.counted.patches) };
    const run = async (kind: string, paths: string[], area: number): Promise<LoadRow> => {
      s.assertAlive();
      const w = await runWrk({
        base: s.base,
        paths,
        connections: CONNECTIONS,
        seconds: ctx.seconds,
        tmpDir: ctx.tmpDir,
        label: `${s.name} ${kind}`,
      });
      return report.load('remote', s.name, kind, 'cold', area, w);
    };
    const tiles = await run('native 512 tiles', lists.load.tiles, 512 * 512);
    const patches = await run('256 px patches', lists.load.patches, PATCH * PATCH);
    return { gets, tiles, patches };
  } finally {
    await s.stop();
  }
}
