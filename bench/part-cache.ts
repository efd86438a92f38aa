/**
 * Part 5, cache: what the decoded-tile cache (DECODED_TILE_CACHE_BYTES) does to three access
 * patterns on the Camelyon16-geometry slide, service with the cache (128 MiB) against the same
 * service without it, 8 connections: a viewer panning screen by screen over 254/1 tiles at full
 * resolution, random 254/1 tiles, and sliding-window patches (256 px every 128 px, row by row).
 */
import { deepZoomGeometry } from '../src/tiles/deepzoom.js';
import { CAMELYON_WIDTH, camelyonLevels } from './camelyon-tiff.js';
import { ANNOTATED_ID, ensureCamelyonData } from './datasets.js';
import { levelTiles, rng } from './lists.js';
import type { LoadRow, Report } from './report.js';
import type { BenchCtx } from './part-tiles.js';
import { buildService, ingestJob, startService } from './servers.js';
import { runWrk } from './wrk.js';

const LIST = 60_000;

export async function cachePart(report: Report, ctx: BenchCtx): Promise<void> {
  const data = await ensureCamelyonData(ctx.tmpDir);
  await ingestJob('ingest', data.serveDir, data.serveIndex);
  await buildService();
  const levels = camelyonLevels().map((l) => ({ ...l, downsample: CAMELYON_WIDTH / l.width }));
  const osd = deepZoomGeometry(levels, 254, 1);
  const max = osd.levels.length - 1;
  const top = osd.levels[max]!;
  const tile = (col: number, row: number) =>
    `/slides/${ANNOTATED_ID}/image_files/${max}/${col}_${row}.jpeg?tileSize=254&overlap=1`;
  // Screens of 8 x 5 tiles, left to right, then down: a viewer panning over the tissue.
  const pan: string[] = [];
  for (let sy = 200; sy < top.rows - 5 && pan.length < LIST; sy += 5) {
    for (let sx = 60; sx < top.cols - 68 && pan.length < LIST; sx += 8)
      for (let r = 0; r < 5; r++) for (let c = 0; c < 8; c++) pan.push(tile(sx + c, sy + r));
  }
  const random = levelTiles(osd, max, rng(5))
    .slice(0, LIST)
    .map((t) => tile(t.col, t.row));
  const sliding: string[] = [];
  for (let y = 60_000; y < 200_000 && sliding.length < LIST; y += 128)
    for (let x = 20_000; x < 20_000 + 128 * 200; x += 128)
      sliding.push(`/slides/${ANNOTATED_ID}/region?x=${x}&y=${y}&width=256&height=256`);
  const patterns = { pan, random, sliding } as const;
  const rows: Record<string, LoadRow> = {};
  for (const [name, env] of [
    ['cache 128 MiB', { DECODED_TILE_CACHE_BYTES: String(128 << 20) }],
    ['no cache', { DECODED_TILE_CACHE_BYTES: '0' }],
  ] as const) {
    process.stderr.write(`cache: service, ${name} ...\n`);
    const s = await startService(data.serveDir, data.serveIndex, { name: `service, ${name}`, env });
    try {
      for (const [pattern, paths] of Object.entries(patterns)) {
        const w = await runWrk({
          base: s.base,
          paths,
          connections: 8,
          seconds: ctx.seconds,
          tmpDir: ctx.tmpDir,
          label: `${name} ${pattern}`,
        });
        rows[`${name}|${pattern}`] = report.load(
          'cache',
          s.name,
          pattern === 'sliding' ? 'region 256, stride 128' : 'image OpenSlide 254+1',
          pattern,
          pattern === 'sliding' ? 256 * 256 : 254 * 254,
          w,
        );
      }
    } finally {
      await s.stop();
    }
  }
  for (const pattern of Object.keys(patterns)) {
    report.ratio(
      'cache',
      `${pattern}: with the decoded-tile cache`,
      'req/s',
      rows[`cache 128 MiB|${pattern}`]?.rps ?? null,
      'without',
      rows[`no cache|${pattern}`]?.rps ?? null,
      null,
    );
  }
}
