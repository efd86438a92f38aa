/**
 * The native region decoder (default) and libvips (NATIVE_JPEG=false) serve the same pixels for
 * every kind of rendered answer: tiles in both geometries at a stored level and at a resampled
 * one, raw regions byte for byte, regions off the slide's edge, PNG and WebP; only the JPEG
 * bytes (and so the ETags) differ. /healthz and /metrics say which decoder is used.
 */
import sharp from 'sharp';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { binary, serveCore, serveIndex, type Served } from '../support/app-fixture.js';

let s: Served;
let vips: Awaited<ReturnType<typeof serveIndex>>;
let cached: Awaited<ReturnType<typeof serveIndex>>;
beforeAll(async () => {
  s = await serveCore();
  vips = await serveIndex(s.dataDir, s.indexPath, { nativeJpeg: false });
  cached = await serveIndex(s.dataDir, s.indexPath, { decodedTileCacheBytes: 64 << 20 });
});
afterAll(() => s.cleanup());

const get = (app: Served['app'], url: string) => request(app).get(url).buffer(true).parse(binary);
const pixels = async (b: Buffer) => sharp(b).raw().toBuffer();

describe('native decoder and libvips: the same pixels', () => {
  it.each([
    // tumor_083: 3000 x 2400, 512 px YCbCr tiles, levels 1, 4 (generated like Camelyon16)
    ['native geometry, a rendered edge tile', '/slides/tumor_083/image_files/12/5_4.jpeg'],
    ["OpenSlide's geometry at level 0", '/slides/tumor_083/image_files/12/3_2.jpeg?tileSize=254&overlap=1'],
    ["OpenSlide's geometry, a resampled level", '/slides/tumor_083/image_files/10/1_1.jpeg?tileSize=254&overlap=1'],
    ['a PNG tile', '/slides/tumor_083/image_files/12/2_1.png?tileSize=254&overlap=1'],
    ['a WebP tile', '/slides/tumor_083/image_files/12/1_1.webp?tileSize=300&overlap=2'],
    ['quality 40', '/slides/tumor_083/image_files/12/4_3.jpeg?tileSize=254&overlap=1&quality=40'],
    ['Aperio RGB tiles', '/slides/cmu-1-small-region/image_files/12/3_4.jpeg?tileSize=254&overlap=1'],
    ['a JPEG region', '/slides/tumor_083/region?x=777&y=555&width=256&height=256'],
    ['a region at an mpp between levels', '/slides/tumor_083/region?x=100&y=90&width=300&height=200&mpp=0.7'],
  ])('%s', async (_what, url) => {
    const [a, b] = await Promise.all([get(s.app, url), get(vips.app, url)]);
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    expect(a.headers['content-type']).toBe(b.headers['content-type']);
    expect((await pixels(a.body)).equals(await pixels(b.body))).toBe(true);
  });

  it.each([
    ['inside the slide', '/slides/tumor_083/region?x=1023&y=511&width=258&height=259&format=raw'],
    ['across the edge (white outside)', '/slides/tumor_083/region?x=2900&y=2300&width=256&height=256&format=raw'],
    ['npy, at level 1', '/slides/tumor_083/region?x=1000&y=800&width=200&height=100&level=1&format=npy'],
  ])('raw region %s: byte for byte', async (_what, url) => {
    const [a, b] = await Promise.all([get(s.app, url), get(vips.app, url)]);
    expect(a.status).toBe(200);
    expect(a.body.equals(b.body)).toBe(true);
  });

  it('with the decoded-tile cache (DECODED_TILE_CACHE_BYTES): panning and overlapping patches, the same pixels', async () => {
    const urls: string[] = [];
    for (let row = 2; row < 5; row++)
      for (let col = 3; col < 6; col++)
        urls.push(`/slides/tumor_083/image_files/12/${col}_${row}.jpeg?tileSize=254&overlap=1`);
    for (let y = 900; y < 1300; y += 128)
      for (let x = 700; x < 1200; x += 128)
        urls.push(`/slides/tumor_083/region?x=${x}&y=${y}&width=256&height=256&format=raw`);
    for (const url of urls) {
      const [a, b] = await Promise.all([get(cached.app, url), get(vips.app, url)]);
      expect(a.status, url).toBe(200);
      if (url.includes('format=raw')) expect(a.body.equals(b.body), url).toBe(true);
      else expect((await pixels(a.body)).equals(await pixels(b.body)), url).toBe(true);
    }
    const m = (await request(cached.app).get('/metrics')).text;
    expect(m).toMatch(/^cache_lookups_total\{cache="decoded_tiles",result="hit"\} [1-9]/m);
  });

  it('JPEG bytes differ between the encoders, and so do the strong ETags', async () => {
    const url = '/slides/tumor_083/image_files/12/3_2.jpeg?tileSize=254&overlap=1';
    const [a, b] = await Promise.all([get(s.app, url), get(vips.app, url)]);
    expect(a.body.equals(b.body)).toBe(false);
    expect(a.headers.etag).not.toBe(b.headers.etag);
    // Passthrough tiles are the stored bytes either way.
    const stored = '/slides/tumor_083/image_files/12/1_1.jpeg';
    const [p, q] = await Promise.all([get(s.app, stored), get(vips.app, stored)]);
    expect(p.body.equals(q.body)).toBe(true);
  });

  it('/healthz says which decoder renders', async () => {
    const on = (await request(s.app).get('/healthz')).body.imaging.nativeJpeg;
    const off = (await request(vips.app).get('/healthz')).body.imaging.nativeJpeg;
    expect(on).toMatchObject({
      available: true,
      enabled: true,
      libjpegTurbo: expect.stringMatching(/^\d+\.\d+\.\d+$/),
    });
    expect(off).toMatchObject({ available: true, enabled: false });
  });

  it('counts no fallback to libvips for readable slides', async () => {
    const m = (await request(s.app).get('/metrics')).text;
    expect(m).toMatch(/^native_decode_fallbacks_total 0$/m);
  });
});
