import sharp from 'sharp';
import request from 'supertest';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { binary, serveCore, type Served } from '../support/app-fixture.js';
import { CLASS_NAMES } from '../support/fuzz-arbitraries.js';

let s: Served;
beforeAll(async () => {
  s = await serveCore();
});
afterAll(() => s.cleanup());

describe('GET /slides', () => {
  it('lists every indexed slide with areas and links, paged', async () => {
    const res = await request(s.app).get('/slides');
    expect(res.status).toBe(200);
    const ids = res.body.items.map((i: { id: string }) => i.id);
    expect(ids).toEqual([
      'boxes',
      'cmu-1-small-region',
      'normal_001',
      'small',
      'tcga-cr-7395-01a-01-ts1',
      'tumor_083',
      'tumor_107',
      'yb10kx5k.zstd',
    ]);
    expect(res.body.total).toBe(8);
    expect(res.body.next).toBeNull();
    const page = await request(s.app).get('/slides?limit=3&offset=3');
    expect(page.body.items.map((i: { id: string }) => i.id)).toEqual(ids.slice(3, 6));
    expect(page.body.next).toBe('/slides?limit=3&offset=6');
    expect((await request(s.app).get('/slides?offset=100')).body).toMatchObject({ items: [], total: 8 });
  });

  it('filters by class, value or category present, and by status', async () => {
    const ids = async (q: string) =>
      (await request(s.app).get(`/slides?${q}`)).body.items.map((i: { id: string }) => i.id);
    expect(await ids('class=metastasis')).toEqual(['tumor_083', 'tumor_107']);
    expect(await ids('class=5')).toEqual(['tumor_083']);
    expect(await ids('category=artefact')).toEqual(['tumor_083']);
    expect(await ids('class=fold,adipose')).toEqual(['tumor_083', 'tumor_107']);
    expect(await ids('status=unsupported')).toEqual(['tcga-cr-7395-01a-01-ts1', 'yb10kx5k.zstd']);
  });

  it.each([
    ['class=nope', 'UNKNOWN_CLASS'],
    ['limit=0', 'INVALID_PARAMETER'],
    ['limit=abc', 'INVALID_PARAMETER'],
    ['offset=-1', 'INVALID_PARAMETER'],
    ['status=bad', 'INVALID_PARAMETER'],
    ['limit=1&limit=2', 'INVALID_PARAMETER'],
  ])('%s -> 400 %s', async (q, code) => {
    const res = await request(s.app).get(`/slides?${q}`);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe(code);
  });
});

describe('GET /slides/{id}', () => {
  it('describes the pyramid, resolution, labels and per-class areas', async () => {
    const res = await request(s.app).get('/slides/tumor_083');
    expect(res.status).toBe(200);
    const b = res.body;
    expect(b).toMatchObject({
      id: 'tumor_083',
      name: 'Tumor_083.tif',
      status: 'ok',
      format: 'generic-tiff',
      width: 3000,
      height: 2400,
      tileWidth: 512,
      compression: 'JPEG',
      bigTiff: true,
    });
    expect(b.mpp.x).toBeCloseTo(0.243, 4);
    expect(b.levels[0]).toEqual({ width: 3000, height: 2400, downsample: 1, tileWidth: 512, tileHeight: 512 });
    expect(b.levels[1]).toMatchObject({ width: 1500, height: 1200, downsample: 2 });
    expect(b.labels.sources.map((x: { id: string }) => x.id)).toEqual(['context', 'lesions', 'artefacts', 'paint']);
    expect(b.legend).toHaveLength(9);
    const meta = b.classes.find((c: { name: string }) => c.name === 'metastasis');
    expect(meta.areaPx).toBeGreaterThan(0);
    expect(meta.areaUm2).toBeCloseTo(meta.areaPx * b.mpp.x * b.mpp.y, 0);
    expect(meta.bbox.x + meta.bbox.width).toBeLessThanOrEqual(3000);
    expect(b.links.thumbnail).toBe('/slides/tumor_083/thumbnail.jpeg');
    expect(res.headers.etag).toBe(`"${b.etag}"`);
    expect((await request(s.app).get('/slides/tumor_083').set('If-None-Match', res.headers.etag!)).status).toBe(304);
  });

  it('shows unsupported slides with the codec named, and refuses their pixels', async () => {
    const zstd = (await request(s.app).get('/slides/yb10kx5k.zstd')).body;
    expect(zstd.status).toBe('unsupported');
    expect(zstd.statusReason).toContain('ZSTD');
    const tcga = await request(s.app).get('/slides/tcga-cr-7395-01a-01-ts1/thumbnail.png');
    expect(tcga.status).toBe(409);
    expect(tcga.body.detail).toContain('JPEG 2000');
  });

  it('404s unknown and odd ids without echoing them into SQL or paths', async () => {
    for (const id of ['nope', '..%2F..%2Fetc', 'A'.repeat(300), '%00', 'tumor_083%20']) {
      const res = await request(s.app).get(`/slides/${id}`);
      expect(res.status).toBe(404);
      expect(res.headers['content-type']).toMatch(/problem\+json/);
      expect(res.body.code).toBe('SLIDE_NOT_FOUND');
    }
  });
});

describe('thumbnails', () => {
  it.each([
    ['jpeg', 'image/jpeg'],
    ['png', 'image/png'],
    ['webp', 'image/webp'],
  ])('%s', async (format, type) => {
    const res = await request(s.app)
      .get(`/slides/tumor_083/thumbnail.${format}?maxSize=200`)
      .buffer(true)
      .parse(binary);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe(type);
    const meta = await sharp(res.body as Buffer).metadata();
    expect(Math.max(meta.width!, meta.height!)).toBe(200);
    expect(res.headers['cache-control']).toContain('max-age');
  });
  it('bounds maxSize and never upsamples', async () => {
    expect((await request(s.app).get('/slides/tumor_083/thumbnail.jpeg?maxSize=99999')).status).toBe(400);
    expect((await request(s.app).get('/slides/tumor_083/thumbnail.jpeg?maxSize=3')).status).toBe(400);
    const small = await request(s.app).get('/slides/small/thumbnail.png?maxSize=512').buffer(true).parse(binary);
    expect((await sharp(small.body as Buffer).metadata()).width).toBe(16);
  });
});

describe('classes, dataset, health, contract', () => {
  it('GET /classes: the taxonomy with dataset-wide areas that add up', async () => {
    const classes = (await request(s.app).get('/classes')).body;
    expect(classes.items.map((c: { name: string }) => c.name)).toEqual(CLASS_NAMES);
    expect(classes.categories).toEqual(['diagnostic', 'background', 'artefact']);
    const slides = (await request(s.app).get('/slides?class=metastasis')).body.items;
    const sum = slides.reduce(
      (a: number, sl: { classes: Array<{ name: string; areaPx: number }> }) =>
        a + sl.classes.find((c) => c.name === 'metastasis')!.areaPx,
      0,
    );
    expect(classes.items[1]).toMatchObject({ slides: 2, areaPx: sum });
  });
  it('GET /dataset: name, version and the problems of the last ingest, without paths', async () => {
    const d = (await request(s.app).get('/dataset')).body;
    expect(d).toMatchObject({ name: 'core-test', version: '1', slides: 8 });
    expect(d.problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ file: 'unreadable.svs', code: 'PIXELS_UNREADABLE' }),
        expect.objectContaining({ file: 'unopenable.tiff', code: 'TIFF_UNKNOWN_COMPRESSION' }),
      ]),
    );
    expect(JSON.stringify(d)).not.toContain(s.dataDir);
  });
  it('GET /healthz reports the index and the imaging capabilities', async () => {
    const h = (await request(s.app).get('/healthz')).body;
    expect(h).toMatchObject({ status: 'ok', index: { ready: true, slides: 8 }, imaging: { openslide: false } });
    expect(h.imaging.codecs).not.toContain('ZSTD');
  });
  it('serves the contract and local docs, and 404s unknown routes as problems', async () => {
    const spec = parseYaml((await request(s.app).get('/openapi.yaml')).text);
    expect(spec.openapi).toBe('3.0.3');
    const docs = await request(s.app).get('/docs');
    expect(docs.text).toContain('/docs/assets/swagger-ui-bundle.js');
    expect((await request(s.app).get('/docs/assets/swagger-ui-bundle.js')).status).toBe(200);
    const missing = await request(s.app).get('/nowhere');
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe('ROUTE_NOT_FOUND');
    const options = await request(s.app).options('/slides');
    expect(options.status).toBe(204);
    expect(options.headers['access-control-allow-methods']).toContain('GET');
  });
});
