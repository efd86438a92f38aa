/**
 * The hot path of GET /slides/{id}/image_files/{level}/{tile} (src/fastpath/tiles.ts) against the
 * express chain: stored tiles passed through, rendered tiles (254/1, coarse levels, png, webp), 304,
 * bad addresses and parameters, other spellings; the same answers, metrics and log lines.
 */
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveDemo, type Served } from '../support/app-fixture.js';
import { both, comparableLogs, counts, pair, type Pair } from './pair.js';

let served: Served;
let p: Pair;
/** The finest DeepZoom level of tumor_001 in its native geometry. */
let top: number;
beforeAll(async () => {
  served = await serveDemo();
  p = await pair(served);
  // Asked of both apps, so their metrics and logs stay comparable.
  await request(p.fast).get('/slides/tumor_001/image.dzi');
  const dzi = (await request(p.chain).get('/slides/tumor_001/image.dzi')).text;
  const [w, h] = ['Width', 'Height'].map((a) => Number(new RegExp(`${a}="(\\d+)"`).exec(dzi)![1]));
  top = Math.ceil(Math.log2(Math.max(w!, h!)));
}, 120_000);
afterAll(() => served.cleanup());

const TILES = '/slides/tumor_001/image_files';

describe('GET /slides/{id}/image_files/{level}/{tile}: the hot path answers as the express chain does', () => {
  it('answers stored and rendered tiles itself, with the same status, headers and bytes', async () => {
    const before = p.routed();
    for (const url of [
      `${TILES}/${top}/0_0.jpeg`,
      `${TILES}/${top}/1_1.jpeg`,
      `${TILES}/${top - 3}/0_0.jpeg`,
      `${TILES}/${top}/2_1.jpeg?tileSize=254&overlap=1`,
      `${TILES}/${top}/0_0.png`,
      `${TILES}/${top}/0_0.webp?quality=60`,
      `${TILES}/0/0_0.jpeg`,
      `${TILES}/0${top}/0_0.jpeg`, // a leading zero: the route reads the same level
    ]) {
      const r = await both(p, 'get', url);
      expect([url, r.status]).toEqual([url, 200]);
      expect(r.body.length).toBeGreaterThan(0);
    }
    expect(p.routed()).toBe(before);
  });

  it('answers 304 itself for a current ETag', async () => {
    const url = `${TILES}/${top}/0_0.jpeg?tileSize=254&overlap=1`;
    const first = await both(p, 'get', url);
    const before = p.routed();
    const r = await both(p, 'get', url, (t) => t.set('If-None-Match', first.headers.etag!));
    expect(r.status).toBe(304);
    expect(p.routed()).toBe(before);
  });

  it('passes bad addresses and parameters, other spellings and methods to the chain', async () => {
    const before = p.routed();
    const passed: Array<[string, number]> = [
      [`${TILES}/${top}/0_0.gif`, 400],
      [`${TILES}/${top}/a_b.jpeg`, 400],
      [`${TILES}/${top}/0_0.jpeg?tileSize=10`, 400],
      [`${TILES}/${top}/0_0.jpeg?tileSize=254&overlap=200`, 400],
      [`${TILES}/${top}/0_0.jpeg?quality=20`, 400],
      [`${TILES}/${top}/0%5F0.jpeg`, 200],
      [`${TILES}/${top}/0_0.jpeg/`, 404],
      [`/slides/nope_404/image_files/${top}/0_0.jpeg`, 404],
    ];
    for (const [url, status] of passed) expect([url, (await both(p, 'get', url)).status]).toEqual([url, status]);
    expect((await both(p, 'head', `${TILES}/${top}/0_0.jpeg`)).status).toBe(200);
    expect(p.routed() - before).toBe(passed.length + 1);
  });

  it('hands a tile beyond the level to the one error writer', async () => {
    const before = p.routed();
    const r = await both(p, 'get', `${TILES}/${top}/999_999.jpeg`);
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.headers['content-type']).toBe('application/problem+json; charset=utf-8');
    expect(p.routed() - before).toBe(1);
  });
});

describe('GET /slides/{id}/mask_files/{level}/{tile}: the same, and both count and log alike', () => {
  it('answers mask tiles itself (raw, coloured, classes, opacity, tissue) and passes the bad ones on', async () => {
    const masks = '/slides/tumor_001/mask_files';
    const before = p.routed();
    for (const q of ['', '?style=color', '?style=color&classes=metastasis&opacity=0.5', '?layer=tissue&style=color']) {
      const url = `${masks}/${top}/0_0.png${q}`;
      expect([url, (await both(p, 'get', url)).status]).toEqual([url, 200]);
    }
    const rendered = `${masks}/${top}/1_0.png?tileSize=254&overlap=1&style=color`;
    const first = await both(p, 'get', rendered);
    expect((await both(p, 'get', rendered, (t) => t.set('If-None-Match', first.headers.etag!))).status).toBe(304);
    expect(p.routed()).toBe(before);
    const bad = [
      `${masks}/${top}/0_0.png?classes=metastasis`,
      `${masks}/${top}/0_0.png?style=color&classes=no_such_class`,
      `${masks}/${top}/0_0.png?layer=tissue&classes=metastasis`,
      `${masks}/${top}/0_0.png?style=bogus`,
      `${masks}/${top}/0_0.jpeg`,
    ];
    for (const url of bad) expect([url, (await both(p, 'get', url)).status]).toEqual([url, 400]);
    expect(p.routed() - before).toBe(bad.length);
  });

  it('counts the same metrics and writes the same log lines', async () => {
    const [fast, chain] = [await counts(p.fast), await counts(p.chain)];
    for (const files of ['image_files', 'mask_files'])
      expect(fast.filter((l) => l.includes(`route="/slides/:slideId/${files}/:level/:tile"`)).length).toBeGreaterThan(
        1,
      );
    expect(fast).toEqual(chain);
    expect(comparableLogs(p.logs.fast).length).toBeGreaterThan(15);
    expect(comparableLogs(p.logs.fast)).toEqual(comparableLogs(p.logs.chain));
  });
});
