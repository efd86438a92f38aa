import sharp from 'sharp';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deepZoomGeometry, tileRead } from '../../src/tiles/deepzoom.js';
import { binary, serveCore, type Served } from '../support/app-fixture.js';

let s: Served;
beforeAll(async () => {
  s = await serveCore();
});
afterAll(() => s.cleanup());

const get = (url: string) => request(s.app).get(url).buffer(true).parse(binary);
const levelsOf = async (id: string) =>
  (await request(s.app).get(`/slides/${id}`)).body.levels as Array<{
    width: number;
    height: number;
    downsample: number;
    tileWidth: number;
  }>;
const raw = async (png: Buffer) => sharp(png).raw().toBuffer({ resolveWithObject: true });
/** Mask PNGs are 8-bit grey; sharp's raw output would expand them to RGB. */
const values = async (png: Buffer) => sharp(png).extractChannel(0).raw().toBuffer({ resolveWithObject: true });

describe('DZI documents', () => {
  it('native geometry by default: the TIFF tile size, overlap 0', async () => {
    const res = await get('/slides/tumor_083/image.dzi');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/application\/xml/);
    const xml = res.body.toString();
    expect(xml).toContain('TileSize="512"');
    expect(xml).toContain('Overlap="0"');
    expect(xml).toContain('<Size Height="2400" Width="3000"/>');
  });
  it("OpenSlide's geometry on request, and the same grid for the mask", async () => {
    const img = (await get('/slides/tumor_083/image.dzi?tileSize=254&overlap=1')).body.toString();
    const mask = (await get('/slides/tumor_083/mask.dzi?tileSize=254&overlap=1')).body.toString();
    expect(img).toContain('TileSize="254"');
    expect(img).toContain('Overlap="1"');
    expect(mask.replace('Format="png"', 'Format="jpeg"')).toBe(img);
  });
  it.each([
    ['tileSize=8', 400],
    ['tileSize=4096', 400],
    ['overlap=-1', 400],
    ['overlap=200&tileSize=254', 400],
    ['tileSize=1e3', 400],
    ['format=gif', 400],
  ])('%s -> %i', async (q, status) => {
    const res = await request(s.app).get(`/slides/tumor_083/image.dzi?${q}`);
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toMatch(/problem\+json/);
  });
});

describe('image tiles', () => {
  it('every tile has the size OpenSlide geometry says, at every level', async () => {
    const levels = await levelsOf('tumor_083');
    for (const [ts, ov] of [
      [512, 0],
      [254, 1],
    ] as const) {
      const g = deepZoomGeometry(levels, ts, ov);
      for (const dz of [g.levels.length - 1, g.levels.length - 2, g.levels.length - 4, 3, 0]) {
        const l = g.levels[dz]!;
        for (const [c, r] of [
          [0, 0],
          [l.cols - 1, l.rows - 1],
        ] as const) {
          const res = await get(`/slides/tumor_083/image_files/${dz}/${c}_${r}.png?tileSize=${ts}&overlap=${ov}`);
          expect(res.status).toBe(200);
          const meta = await sharp(res.body).metadata();
          const want = tileRead(g, levels, dz, c, r)!;
          expect([meta.width, meta.height]).toEqual([want.zWidth, want.zHeight]);
        }
      }
    }
  });

  it('interior native tiles are the stored JPEG bytes and decode to the rendered pixels', async () => {
    const g = deepZoomGeometry(await levelsOf('tumor_083'), 512, 0);
    const dz = g.levels.length - 1;
    const passed = await get(`/slides/tumor_083/image_files/${dz}/1_1.jpeg`);
    expect(passed.status).toBe(200);
    expect(passed.headers['content-type']).toBe('image/jpeg');
    // The same pixels through the rendering path: a lossless PNG of the same region.
    const rendered = await get(`/slides/tumor_083/image_files/${dz}/1_1.png`);
    const a = await raw(passed.body);
    const b = await raw(rendered.body);
    expect([a.info.width, a.info.height]).toEqual([512, 512]);
    expect(Buffer.compare(a.data, b.data)).toBe(0);
    // The region endpoint reads the same stored tile.
    const region = await get('/slides/tumor_083/region?x=512&y=512&width=512&height=512&level=0&format=raw');
    expect(Buffer.compare(region.body, a.data)).toBe(0);
  });

  it('neighbouring tiles share their overlap pixels (no seams)', async () => {
    const levels = await levelsOf('tumor_083');
    const g = deepZoomGeometry(levels, 254, 1);
    const dz = g.levels.length - 1;
    const left = await raw((await get(`/slides/tumor_083/image_files/${dz}/1_1.png?tileSize=254&overlap=1`)).body);
    const right = await raw((await get(`/slides/tumor_083/image_files/${dz}/2_1.png?tileSize=254&overlap=1`)).body);
    // Left tile's last two columns are level-0 x = 507, 508; right tile's first two are the same.
    const col = (img: typeof left, x: number) =>
      Array.from({ length: img.info.height }, (_, y) =>
        img.data.subarray((y * img.info.width + x) * 3, (y * img.info.width + x) * 3 + 3).join(','),
      );
    expect(col(right, 0)).toEqual(col(left, left.info.width - 2));
    expect(col(right, 1)).toEqual(col(left, left.info.width - 1));
  });

  it('serves slides in other codecs through libvips (Deflate boxes.tiff, Aperio CMU-1 with RGB JPEG)', async () => {
    const boxes = await get('/slides/boxes/image_files/9/0_0.jpeg?tileSize=512');
    expect(boxes.status).toBe(200);
    expect((await sharp(boxes.body).metadata()).width).toBe(300);
    const cmu = await get('/slides/cmu-1-small-region/image_files/12/2_2.jpeg');
    expect(cmu.status).toBe(200);
    // Aperio stores RGB JPEG: the Adobe marker makes decoders keep the colours (pink tissue, not green).
    const { data } = await raw((await get('/slides/cmu-1-small-region/image_files/12/4_6.png')).body);
    let r = 0;
    let g = 0;
    for (let i = 0; i < data.length; i += 3) {
      r += data[i]!;
      g += data[i + 1]!;
    }
    expect(r).toBeGreaterThan(g);
  });

  it('answers bad addresses with 4xx problems, never 5xx', async () => {
    const cases: Array<[string, number]> = [
      ['/slides/tumor_083/image_files/99/0_0.jpeg', 404],
      ['/slides/tumor_083/image_files/13/9_0.jpeg', 404],
      ['/slides/tumor_083/image_files/12/0_0.gif', 400],
      ['/slides/tumor_083/image_files/12/0-0.jpeg', 400],
      ['/slides/tumor_083/image_files/-1/0_0.jpeg', 400],
      ['/slides/tumor_083/image_files/12/0_0.jpeg?quality=5', 400],
      ['/slides/nope/image_files/12/0_0.jpeg', 404],
      ['/slides/tcga-cr-7395-01a-01-ts1/image_files/12/0_0.jpeg', 409],
      ['/slides/yb10kx5k.zstd/image.dzi', 409],
    ];
    for (const [url, status] of cases) {
      const res = await request(s.app).get(url);
      expect([url, res.status]).toEqual([url, status]);
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(res.body.code).toMatch(/^[A-Z_]+$/);
    }
  });

  it('has HTTP manners: strong ETag, 304, immutable caching, CORS, nosniff', async () => {
    const url = '/slides/tumor_083/image_files/12/1_1.jpeg?tileSize=254&overlap=1';
    const first = await get(url);
    expect(first.headers.etag).toMatch(/^"[^"]+"$/);
    expect(first.headers['cache-control']).toContain('max-age=');
    expect(first.headers['access-control-allow-origin']).toBe('*');
    expect(first.headers['x-content-type-options']).toBe('nosniff');
    const again = await request(s.app).get(url).set('If-None-Match', first.headers.etag!);
    expect(again.status).toBe(304);
    const other = await request(s.app).get(
      '/slides/tumor_083/image_files/12/1_1.jpeg?tileSize=254&overlap=1&quality=50',
    );
    expect(other.headers.etag).not.toBe(first.headers.etag);
  });
});

describe('mask tiles', () => {
  const taxonomy = [0, 1, 2, 3, 4, 5, 6, 7, 8];

  it('raw tiles are grey PNGs of taxonomy values at every level, on the image grid', async () => {
    const levels = await levelsOf('tumor_083');
    const g = deepZoomGeometry(levels, 254, 1);
    const seen = new Set<number>();
    for (let dz = 0; dz < g.levels.length; dz++) {
      const l = g.levels[dz]!;
      const res = await get(
        `/slides/tumor_083/mask_files/${dz}/${l.cols - 1}_${l.rows - 1}.png?tileSize=254&overlap=1`,
      );
      expect(res.status).toBe(200);
      const img = await values(res.body);
      expect((await sharp(res.body).metadata()).channels).toBe(1);
      const want = tileRead(g, levels, dz, l.cols - 1, l.rows - 1)!;
      expect([img.info.width, img.info.height, img.info.channels]).toEqual([want.zWidth, want.zHeight, 1]);
      for (const v of img.data) {
        expect(taxonomy).toContain(v);
        seen.add(v);
      }
    }
    expect(seen.size).toBeGreaterThan(1);
  });

  it('a full-resolution raw mask tile equals the mask region at level 0', async () => {
    const levels = await levelsOf('tumor_083');
    const g = deepZoomGeometry(levels, 512, 0);
    const dz = g.levels.length - 1;
    const tile = await values((await get(`/slides/tumor_083/mask_files/${dz}/1_1.png`)).body);
    const region = await get('/slides/tumor_083/region?x=512&y=512&width=512&height=512&level=0&layer=mask&format=raw');
    expect(Buffer.compare(tile.data, region.body)).toBe(0);
  });

  it('color tiles use the class colours, transparent where unlabelled or hidden, with the opacity asked', async () => {
    const levels = await levelsOf('tumor_083');
    const dz = deepZoomGeometry(levels, 512, 0).levels.length - 2;
    const rawTile = await values((await get(`/slides/tumor_083/mask_files/${dz}/0_0.png`)).body);
    const colour = await sharp((await get(`/slides/tumor_083/mask_files/${dz}/0_0.png?style=color&opacity=0.5`)).body)
      .ensureAlpha()
      .raw()
      .toBuffer();
    const only = await sharp(
      (await get(`/slides/tumor_083/mask_files/${dz}/0_0.png?style=color&classes=connective-tissue`)).body,
    )
      .ensureAlpha()
      .raw()
      .toBuffer();
    const palette: Record<number, number[]> = { 1: [214, 39, 40], 3: [242, 193, 46], 4: [44, 160, 44] };
    for (let i = 0; i < rawTile.data.length; i += 97) {
      const v = rawTile.data[i]!;
      const px = Array.from(colour.subarray(i * 4, i * 4 + 4));
      if (v === 0) expect(px[3]).toBe(0);
      else {
        expect(px[3]).toBe(128);
        if (palette[v]) expect(px.slice(0, 3)).toEqual(palette[v]);
      }
      expect(only[i * 4 + 3]).toBe(v === 4 ? 255 : 0);
    }
  });

  it.each([
    ['style=fancy', 400],
    ['style=raw&classes=adipose', 400],
    ['style=color&classes=nope', 400],
    ['style=color&opacity=2', 400],
    ['style=color&opacity=NaN', 400],
  ])('%s -> %i', async (q, status) => {
    const res = await request(s.app).get(`/slides/tumor_083/mask_files/11/0_0.png?${q}`);
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toMatch(/problem\+json/);
  });

  it('a slide without labels has an all-unlabelled mask', async () => {
    const res = await get('/slides/boxes/mask_files/9/0_0.png');
    expect(res.status).toBe(200);
    const img = await values(res.body);
    expect(img.data.every((v) => v === 0)).toBe(true);
  });
});
