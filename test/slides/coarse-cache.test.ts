/**
 * The decoded-tile cache of the coarse levels (COARSE_TILE_CACHE_BYTES, on by default): regions
 * read from a level at least 4x coarser than level 0 decode its stored tiles whole on first use
 * and reuse them, with the same bytes as decoding them each time; level-0 reads never use it.
 */
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { binary, serveCore, serveIndex, type Served } from '../support/app-fixture.js';

let s: Served;
let uncached: Awaited<ReturnType<typeof serveIndex>>;
beforeAll(async () => {
  s = await serveCore();
  uncached = await serveIndex(s.dataDir, s.indexPath, { coarseTileCacheBytes: 0 });
});
afterAll(() => s.cleanup());

const get = async (app: Served['app'], url: string) => {
  const res = await request(app).get(url).buffer(true).parse(binary);
  expect(res.status, url).toBe(200);
  return res.body as Buffer;
};
const lookups = async (app: Served['app']) => {
  const m = (await request(app).get('/metrics')).text;
  const count = (result: string) =>
    Number(
      new RegExp(`^cache_lookups_total\\{cache="coarse_tiles",result="${result}"\\} (\\d+)`, 'm').exec(m)?.[1] ?? 0,
    );
  return { hit: count('hit'), miss: count('miss') };
};

describe('coarse-level decoded tiles', () => {
  it('level-0 reads do not use it', async () => {
    for (let x = 600; x < 1400; x += 200)
      await get(s.app, `/slides/tumor_083/region?x=${x}&y=700&width=256&height=256`);
    expect(await lookups(s.app)).toEqual({ hit: 0, miss: 0 });
  });

  it('regions of a coarse level, raw and JPEG: the same bytes as without the cache, and it is used', async () => {
    const slide = (await request(s.app).get('/slides/tumor_083')).body as {
      mpp: { x: number };
      levels: Array<{ downsample: number }>;
    };
    const levels = slide.levels;
    const coarse = levels.findIndex((l) => l.downsample >= 4);
    expect(coarse).toBeGreaterThan(0);
    // Overlapping regions by level and by an mpp between levels (resampled), each tile used 2+ times.
    const urls: string[] = [];
    for (let y = 0; y <= 1200; y += 400)
      for (let x = 0; x <= 1600; x += 400) {
        urls.push(`/slides/tumor_083/region?x=${x}&y=${y}&width=200&height=150&level=${coarse}&format=raw`);
        urls.push(`/slides/tumor_083/region?x=${x}&y=${y}&width=180&height=180&level=${coarse}`);
        const mpp = (slide.mpp.x * levels[coarse]!.downsample * 1.3).toFixed(4);
        urls.push(`/slides/tumor_083/region?x=${x}&y=${y}&width=160&height=160&mpp=${mpp}&format=raw`);
      }
    for (const url of [...urls, ...urls])
      expect((await get(s.app, url)).equals(await get(uncached.app, url)), url).toBe(true);
    const used = await lookups(s.app);
    expect(used.hit).toBeGreaterThan(0);
    expect(used.miss).toBeGreaterThan(0);
    expect(await lookups(uncached.app)).toEqual({ hit: 0, miss: 0 });
  });
});
