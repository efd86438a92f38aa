/**
 * IIIF through HTTP on the demo dataset: documents, headers, errors, and pixels compared with
 * the service's other paths (/region, DeepZoom tiles, mask tiles) for the same rectangles.
 */
import sharp, { type Sharp } from 'sharp';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashKey } from '../../src/auth/keys.js';
import type { Schemas } from '../../src/http/types.js';
import { binary, serveDemo, serveIndex, type Served } from '../support/app-fixture.js';

let s: Served;
let slide: Schemas['Slide'];
let id: string;

beforeAll(async () => {
  s = await serveDemo();
  id = 'tumor_001';
  slide = (await request(s.app).get(`/slides/${id}`)).body as Schemas['Slide'];
});
afterAll(() => s?.cleanup());

const get = (url: string) => request(s.app).get(url).buffer(true).parse(binary);
/** Decoded pixels in the image's own channels (sharp's raw output would expand grey to RGB). */
const raw = async (body: Buffer) => {
  const { channels } = await sharp(body).metadata();
  const img = sharp(body);
  return (channels === 1 ? img.extractChannel(0) : img).raw().toBuffer({ resolveWithObject: true });
};

describe('info.json', () => {
  it('describes the slide at level 2, with tiles on the stored grid and its physical scale', async () => {
    const res = await request(s.app).get(`/iiif/3/${id}/info.json`).set('Host', 'slides.example:8080');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['access-control-allow-origin']).toBe('*');
    expect(res.headers['link']).toBe('<http://iiif.io/api/image/3/level2.json>;rel="profile"');
    const info = JSON.parse(res.text);
    expect(info).toMatchObject({
      '@context': 'http://iiif.io/api/image/3/context.json',
      id: `http://slides.example:8080/iiif/3/${id}`,
      type: 'ImageService3',
      protocol: 'http://iiif.io/api/image',
      profile: 'level2',
      width: slide.width,
      height: slide.height,
      maxArea: 2048 * 2048,
      tiles: [{ width: slide.tileWidth, height: slide.tileWidth }],
      partOf: [{ id: `http://slides.example:8080/slides/${id}/manifest.json`, type: 'Manifest' }],
      service: [{ physicalScale: slide.mpp!.x / 1000, physicalUnits: 'mm' }],
    });
    expect(info.tiles[0].scaleFactors.slice(0, slide.levels.length)).toEqual(slide.levels.map((_l, i) => 2 ** i));
  });

  it('answers JSON-LD to a client that asks for it, and 304 to a current copy', async () => {
    // The document names the host it was asked through (supertest listens on a new port per request).
    const ld = await request(s.app)
      .get(`/iiif/3/${id}/info.json`)
      .set('Accept', 'application/ld+json')
      .set('Host', 'h');
    expect(ld.headers['content-type']).toBe(
      'application/ld+json; profile="http://iiif.io/api/image/3/context.json"; charset=utf-8',
    );
    const again = await request(s.app)
      .get(`/iiif/3/${id}/info.json`)
      .set('If-None-Match', ld.headers['etag']!)
      .set('Host', 'h');
    expect(again.status).toBe(304);
    const elsewhere = await request(s.app)
      .get(`/iiif/3/${id}/info.json`)
      .set('If-None-Match', ld.headers['etag']!)
      .set('Host', 'other');
    expect(elsewhere.status).toBe(200);
  });

  it('label images are png-only images of the same size', async () => {
    for (const kind of ['mask', 'overlay']) {
      const info = (await request(s.app).get(`/iiif/3/${id}~${kind}/info.json`)).body;
      expect(info).toMatchObject({
        width: slide.width,
        height: slide.height,
        profile: 'level0',
        preferredFormats: ['png'],
      });
    }
  });

  it('the base URI redirects (303) to info.json', async () => {
    const res = await request(s.app).get(`/iiif/3/${id}~mask`);
    expect(res.status).toBe(303);
    expect(res.headers['location']).toBe(`/iiif/3/${id}~mask/info.json`);
  });
});

describe('image requests', () => {
  it('an aligned request is the stored tile, byte for byte (the DeepZoom native tile)', async () => {
    const top = slide.levels.length;
    for (const [sf, col, row] of [
      [1, 1, 1],
      [2, 0, 1],
    ] as const) {
      const span = slide.tileWidth * sf;
      const res = await get(
        `/iiif/3/${id}/${col * span},${row * span},${span},${span}/${slide.tileWidth},${slide.tileWidth}/0/default.jpg`,
      );
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe('image/jpeg');
      const dzLevels = Math.ceil(Math.log2(Math.max(slide.width, slide.height))) + 1;
      const dz = await get(`/slides/${id}/image_files/${dzLevels - sf}/${col}_${row}.jpeg`);
      expect(top).toBeGreaterThan(1);
      expect(res.body.equals(dz.body as Buffer)).toBe(true);
    }
  });

  it('regions equal /region for the same rectangle and level', async () => {
    for (const [level, x, y, w, h] of [
      [0, 333, 517, 300, 200],
      [1, 1001, 700, 257, 129],
    ] as const) {
      const ds = slide.levels[level]!.downsample;
      const iiif = await get(
        `/iiif/3/${id}/${x},${y},${Math.round(w * ds)},${Math.round(h * ds)}/${w},${h}/0/default.png`,
      );
      const region = await get(`/slides/${id}/region?x=${x}&y=${y}&width=${w}&height=${h}&level=${level}&format=png`);
      expect(iiif.status).toBe(200);
      expect(iiif.headers['link']).toContain(';rel="canonical"');
      expect((await raw(iiif.body)).data.equals((await raw(region.body)).data)).toBe(true);
    }
  });

  it('rotates clockwise after mirroring, exactly', async () => {
    const url = (rot: string) => `/iiif/3/${id}/600,400,120,80/max/${rot}/default.png`;
    const base = await raw((await get(url('0'))).body);
    const expected = async (op: (x: Sharp) => Sharp) =>
      await op(sharp(base.data, { raw: { width: base.info.width, height: base.info.height, channels: 3 } }))
        .raw()
        .toBuffer({ resolveWithObject: true });
    for (const [rot, op] of [
      ['90', (x: Sharp) => x.rotate(90)],
      ['180', (x: Sharp) => x.rotate(180)],
      ['270', (x: Sharp) => x.rotate(270)],
      ['!0', (x: Sharp) => x.flop()],
    ] as const) {
      const got = await raw((await get(url(rot))).body);
      const want = await expected(op);
      expect([rot, got.info.width, got.info.height]).toEqual([rot, want.info.width, want.info.height]);
      expect(got.data.equals(want.data)).toBe(true);
    }
  });

  it('gray is one channel, bitonal only black and white, webp is webp', async () => {
    const gray = await raw((await get(`/iiif/3/${id}/full/256,/0/gray.png`)).body);
    expect(gray.info.channels).toBe(1);
    const bitonal = await raw((await get(`/iiif/3/${id}/full/256,/0/bitonal.png`)).body);
    expect(new Set(bitonal.data)).toEqual(new Set([0, 255]));
    const webp = await get(`/iiif/3/${id}/full/256,/0/default.webp`);
    expect([webp.headers['content-type'], webp.body.subarray(8, 12).toString('latin1')]).toEqual([
      'image/webp',
      'WEBP',
    ]);
  });

  it('answers 304 to a current copy, with the same headers as tiles', async () => {
    const first = await get(`/iiif/3/${id}/pct:10,10,20,20/!300,300/0/default.jpg`);
    expect(first.headers['cache-control']).toMatch(/^public, max-age=/);
    expect(first.headers['etag']).toMatch(/^"[^"]+"$/);
    const again = await request(s.app)
      .get(`/iiif/3/${id}/pct:10,10,20,20/!300,300/0/default.jpg`)
      .set('If-None-Match', first.headers['etag']!);
    expect(again.status).toBe(304);
  });
});

describe('label images', () => {
  it('~mask carries only taxonomy values, the same as the DeepZoom mask tile of that rectangle', async () => {
    const values = new Set([
      0,
      ...(await request(s.app).get('/classes')).body.items.map((c: { value: number }) => c.value),
    ]);
    const t = slide.tileWidth;
    const dzLevels = Math.ceil(Math.log2(Math.max(slide.width, slide.height))) + 1;
    const iiif = await raw(
      (await get(`/iiif/3/${id}~mask/${2 * t},${2 * t},${2 * t},${2 * t}/${t},${t}/0/default.png`)).body,
    );
    const dz = await raw((await get(`/slides/${id}/mask_files/${dzLevels - 2}/1_1.png`)).body);
    expect(iiif.info.channels).toBe(1);
    expect(iiif.data.equals(dz.data)).toBe(true);
    const whole = await raw((await get(`/iiif/3/${id}~mask/full/!700,700/90/default.png`)).body);
    const seen = new Set(whole.data);
    expect(seen.size).toBeGreaterThan(2);
    for (const v of seen) expect(values.has(v)).toBe(true);
  });

  it('~overlay is a png with alpha in the class colours', async () => {
    const img = await raw((await get(`/iiif/3/${id}~overlay/full/512,/0/default.png`)).body);
    expect(img.info.channels).toBe(4);
    let transparent = 0;
    for (let i = 3; i < img.data.length; i += 4) if (img.data[i] === 0) transparent++;
    expect(transparent).toBeGreaterThan(0);
    expect(transparent).toBeLessThan(img.data.length / 4);
  });

  it.each([
    ['~mask/full/max/0/default.jpg', 'UNSUPPORTED_FORMAT'],
    ['~overlay/full/max/0/color.png', 'UNSUPPORTED_QUALITY'],
  ])('%s -> 400', async (path, code) => {
    const res = await request(s.app).get(`/iiif/3/${id}${path}`);
    expect([res.status, res.body.code]).toEqual([400, code]);
  });
});

describe('errors', () => {
  it.each([
    ['nope/info.json', 404, 'IMAGE_NOT_FOUND'],
    ['nope/full/max/0/default.jpg', 404, 'IMAGE_NOT_FOUND'],
    ['a%2Fb/full/max/0/default.jpg', 404, 'IMAGE_NOT_FOUND'],
    ['tumor_001~nope/info.json', 404, 'IMAGE_NOT_FOUND'],
    ['tumor_001/abc/max/0/default.jpg', 400, 'INVALID_REGION'],
    ['tumor_001/999999,0,10,10/max/0/default.jpg', 400, 'REGION_OUTSIDE'],
    ['tumor_001/full/full/0/default.jpg', 400, 'INVALID_SIZE'],
    ['tumor_001/0,0,100,100/101,/0/default.jpg', 400, 'UPSCALE_NOT_REQUESTED'],
    ['tumor_001/full/^max/0/default.jpg', 200, undefined],
    ['tumor_001/full/^3000,3000/0/default.jpg', 400, 'SIZE_TOO_LARGE'],
    ['tumor_001/full/max/45/default.jpg', 501, 'ROTATION_NOT_SUPPORTED'],
    ['tumor_001/full/max/xyz/default.jpg', 400, 'INVALID_ROTATION'],
    ['tumor_001/full/max/0/native.jpg', 400, 'INVALID_QUALITY'],
    ['tumor_001/full/max/0/default.tif', 400, 'UNSUPPORTED_FORMAT'],
  ])('%s -> %i %s', async (path, status, code) => {
    const res = await request(s.app).get(`/iiif/3/${path}`);
    expect(res.status).toBe(status);
    if (code) {
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.body.code).toBe(code);
    }
  });
});

describe('presentation', () => {
  it('the manifest paints the slide with its two label layers as a Choice', async () => {
    const res = await request(s.app).get(`/slides/${id}/manifest.json`).set('Host', 'h:1');
    expect(res.status).toBe(200);
    const canvas = res.body.items[0];
    expect(canvas).toMatchObject({ type: 'Canvas', width: slide.width, height: slide.height });
    const body = canvas.items[0].items[0].body;
    expect(body.type).toBe('Choice');
    expect(body.items.map((i: { service: Array<{ id: string }> }) => i.service[0]!.id)).toEqual([
      `http://h:1/iiif/3/${id}`,
      `http://h:1/iiif/3/${id}~overlay`,
      `http://h:1/iiif/3/${id}~mask`,
    ]);
    for (const item of body.items)
      expect((await request(s.app).get(new URL(`${item.service[0].id}/info.json`).pathname)).status).toBe(200);
  });

  it("the collection lists every slide's manifest", async () => {
    const res = await request(s.app).get('/iiif/3/collection.json');
    const slides = (await request(s.app).get('/slides')).body.items as Array<{ id: string }>;
    expect(res.body.type).toBe('Collection');
    expect(res.body.items.map((m: { id: string }) => new URL(m.id).pathname)).toEqual(
      slides.map((x) => `/slides/${x.id}/manifest.json`),
    );
  });
});

describe('with API keys', () => {
  it('IIIF follows the data endpoints: 401 without a key, private caching with one', async () => {
    const keyed = await serveIndex(s.dataDir, s.indexPath, { apiKeys: [hashKey('k1')] });
    const url = `/iiif/3/${id}/full/128,/0/default.jpg`;
    expect((await request(keyed.app).get(url)).status).toBe(401);
    expect((await request(keyed.app).get(`/slides/${id}/manifest.json`)).status).toBe(401);
    const ok = await request(keyed.app).get(url).set('Authorization', 'Bearer k1');
    expect(ok.status).toBe(200);
    expect(ok.headers['cache-control']).toMatch(/^private/);
  });
});
