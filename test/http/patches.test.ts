import sharp from 'sharp';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { untar } from '../support/tar.js';
import { binary, serveCore, type Served } from '../support/app-fixture.js';
import { CLASS_NAMES } from '../support/fuzz-arbitraries.js';

let s: Served;
beforeAll(async () => {
  s = await serveCore();
});
afterAll(() => s.cleanup());

type Item = {
  index: number;
  slideId: string;
  x: number;
  y: number;
  width: number;
  sizeL0: number;
  class: string;
  classValue: number;
  fractions: Record<string, number>;
  imageUrl: string;
  maskUrl: string;
};
const samples = async (body: object) => {
  const res = await request(s.app).post('/samples').send(body);
  if (res.status !== 200) throw new Error(`${res.status} ${JSON.stringify(res.body)}`);
  return res.body as { datasetVersion: string; items: Item[] };
};
const names = CLASS_NAMES;
const maskOf = async (url: string) =>
  (await request(s.app).get(url.replace('layer=mask', 'layer=mask&format=raw')).buffer(true).parse(binary))
    .body as Buffer;

describe('POST /samples', () => {
  const base = {
    classes: ['metastasis', 'adipose'],
    balance: 'classes',
    minFraction: 0.5,
    size: 128,
    level: 0,
    count: 40,
    seed: 7,
  };

  it('is reproducible for a seed, and another seed or epoch gives other patches', async () => {
    const a = await samples(base);
    const b = await samples(base);
    expect(b).toEqual(a);
    expect(a.items).toHaveLength(40);
    expect((await samples({ ...base, seed: 8 })).items).not.toEqual(a.items);
    expect((await samples({ ...base, epoch: 1 })).items).not.toEqual(a.items);
    expect(a.datasetVersion).toMatch(/^[0-9a-f]{16}$/);
  });

  it('reports fractions that equal what the mask says under the patch, exactly', async () => {
    const { items } = await samples({ ...base, count: 12 });
    for (const it of items) {
      const mask = await maskOf(it.maskUrl);
      expect(mask.length).toBe(it.width * it.width);
      const counts = new Map<string, number>();
      for (const v of mask) counts.set(names[v]!, (counts.get(names[v]!) ?? 0) + 1);
      const fromMask = Object.fromEntries([...counts].map(([k, n]) => [k, n / mask.length]));
      expect(fromMask).toEqual(it.fractions);
      expect(it.fractions[it.class]!).toBeGreaterThanOrEqual(0.5);
    }
  });

  it('follows the requested class weights (chi-square) and balance', async () => {
    const { items } = await samples({
      classes: ['metastasis', 'adipose', 'connective-tissue'],
      weights: [1, 2, 1],
      minFraction: 0.3,
      size: 64,
      count: 200,
      seed: 3,
    });
    const observed = ['metastasis', 'adipose', 'connective-tissue'].map(
      (c) => items.filter((i) => i.class === c).length,
    );
    const expected = [50, 100, 50];
    const chi2 = observed.reduce((a, o, k) => a + (o - expected[k]!) ** 2 / expected[k]!, 0);
    expect(chi2).toBeLessThan(5.99); // 95th percentile, 2 degrees of freedom
    const balanced = await samples({
      classes: ['metastasis', 'adipose'],
      balance: 'classes',
      size: 64,
      count: 100,
      seed: 3,
    });
    expect(balanced.items.filter((i) => i.class === 'metastasis')).toHaveLength(50);
  });

  it('shards are disjoint and together are exactly the epoch', async () => {
    const whole = await samples({ ...base, count: 30 });
    const parts = await Promise.all([0, 1, 2].map((shard) => samples({ ...base, count: 30, shard, shards: 3 })));
    const joined = parts.flatMap((p) => p.items).sort((a, b) => a.index - b.index);
    expect(joined).toEqual(whole.items);
    expect(parts.map((p) => p.items.length)).toEqual([10, 10, 10]);
  });

  it('keeps patch centres inside the region and patches out of excluded classes', async () => {
    const detail = (await request(s.app).get('/slides/tumor_083')).body as {
      classes: Array<{ name: string; bbox: { x: number; y: number; width: number; height: number } }>;
    };
    const b = detail.classes.find((c) => c.name === 'metastasis')!.bbox;
    const rect = { x: b.x + b.width / 4, y: b.y + b.height / 4, width: b.width / 2, height: b.height / 2 };
    const { items } = await samples({
      classes: ['metastasis'],
      slides: ['tumor_083'],
      region: { rect },
      exclude: { categories: ['artefact'], maxFraction: 0 },
      size: 64,
      count: 30,
      seed: 1,
      minFraction: 0.2,
    });
    for (const it of items) {
      const cx = it.x + it.sizeL0 / 2;
      const cy = it.y + it.sizeL0 / 2;
      expect(cx >= rect.x && cx < rect.x + rect.width && cy >= rect.y && cy < rect.y + rect.height).toBe(true);
      for (const a of ['fold', 'ink', 'blur', 'bubble-debris']) expect(it.fractions[a] ?? 0).toBe(0);
    }
    const tri = {
      type: 'Polygon',
      coordinates: [
        [
          [0, 0],
          [3000, 0],
          [0, 2400],
          [0, 0],
        ],
      ],
    };
    const inTri = await samples({
      classes: ['connective-tissue', 'metastasis'],
      slides: ['tumor_083'],
      region: { polygon: tri },
      size: 64,
      count: 20,
      seed: 2,
      minFraction: 0.2,
    });
    for (const it of inTri.items) expect((it.x + 32) / 3000 + (it.y + 32) / 2400).toBeLessThan(1);
  });

  it('centre criterion and level/mpp sizes', async () => {
    const c = await samples({ classes: ['adipose'], criterion: 'center', size: 32, count: 10, seed: 5 });
    for (const it of c.items) {
      const mask = await maskOf(it.maskUrl);
      expect(names[mask[16 * 32 + 16]!]).toBe('adipose');
    }
    const l1 = await samples({ classes: ['adipose'], level: 1, size: 64, count: 3, seed: 5 });
    expect(l1.items[0]!.sizeL0).toBe(128);
    const m = await samples({ classes: ['adipose'], mpp: 0.5, slides: ['tumor_083'], size: 64, count: 3, seed: 5 });
    expect(m.items[0]!.sizeL0).toBeCloseTo((64 * 0.5) / 0.243, 3);
  });

  it.each([
    [{ classes: ['nope'] }, 400, 'UNKNOWN_CLASS'],
    [{ classes: [] }, 400, 'VALIDATION_FAILED'],
    [{ classes: ['adipose'], size: 4 }, 400, 'VALIDATION_FAILED'],
    [{ classes: ['adipose'], count: 1e9 }, 400, 'VALIDATION_FAILED'],
    [{ classes: ['adipose'], level: 40 }, 400, 'VALIDATION_FAILED'],
    [{ classes: ['adipose'], level: 9 }, 422, 'LEVEL_OUT_OF_RANGE'],
    [{ classes: ['adipose'], shard: 3, shards: 2 }, 400, 'VALIDATION_FAILED'],
    [{ classes: ['adipose'], weights: [1, 2] }, 400, 'VALIDATION_FAILED'],
    [{ classes: ['adipose'], slides: ['nope'] }, 404, 'SLIDE_NOT_FOUND'],
    [{ classes: ['adipose'], bogus: 1 }, 400, 'VALIDATION_FAILED'],
    [{ classes: ['lymph-node-parenchyma'] }, 422, 'CLASS_NOT_PRESENT'],
    [{ classes: ['metastasis'], region: { rect: { x: 0, y: 0, width: 10, height: 10 } } }, 422, 'CLASS_NOT_PRESENT'],
    [
      {
        classes: ['adipose'],
        region: {
          polygon: {
            type: 'Polygon',
            coordinates: [
              [
                [0, 0],
                [1, 1],
              ],
            ],
          },
        },
      },
      400,
      'INVALID_GEOJSON',
    ],
    [{ classes: ['adipose'], region: { polygon: { type: 'Polygon', coordinates: 'x' } } }, 400, 'VALIDATION_FAILED'],
    [{ classes: ['metastasis'], size: 2048, minFraction: 1 }, 422, 'NO_QUALIFYING_PATCH'],
    [{ classes: ['adipose'], mpp: 0.1 }, 422, 'MPP_TOO_FINE'],
  ])('%j -> %i %s', async (body, status, code) => {
    const res = await request(s.app).post('/samples').send(body);
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toMatch(/problem\+json/);
    expect(res.body.code).toBe(code);
  });

  it('refuses bodies that are not JSON objects', async () => {
    for (const [body, type, status] of [
      ['{', 'application/json', 400],
      ['[]', 'application/json', 400],
      ['classes=a', 'application/x-www-form-urlencoded', 415],
    ] as const) {
      const res = await request(s.app).post('/samples').set('Content-Type', type).send(body);
      expect(res.status).toBe(status);
      expect(res.headers['content-type']).toMatch(/problem\+json/);
    }
    const big = await request(s.app)
      .post('/samples')
      .set('Content-Type', 'application/json')
      .send(JSON.stringify({ classes: ['adipose'], pad: 'x'.repeat(2 << 20) }));
    expect(big.status).toBe(413);
  });
});

describe('GET /slides/{id}/region', () => {
  it('serves images in every format and masks losslessly; npy is a NumPy array', async () => {
    for (const [format, type] of [
      ['jpeg', 'image/jpeg'],
      ['png', 'image/png'],
      ['webp', 'image/webp'],
    ] as const) {
      const res = await request(s.app)
        .get(`/slides/tumor_083/region?x=900&y=700&width=200&height=100&level=0&format=${format}`)
        .buffer(true)
        .parse(binary);
      expect([res.status, res.headers['content-type']]).toEqual([200, type]);
      expect(await sharp(res.body as Buffer).metadata()).toMatchObject({ width: 200, height: 100 });
    }
    const npy = (
      await request(s.app)
        .get('/slides/tumor_083/region?x=900&y=700&width=20&height=10&level=0&format=npy')
        .buffer(true)
        .parse(binary)
    ).body as Buffer;
    expect(npy.subarray(0, 6).toString('latin1')).toBe('\x93NUMPY');
    const headerLen = npy.readUInt16LE(8);
    expect((10 + headerLen) % 64).toBe(0);
    expect(npy.subarray(10, 10 + headerLen).toString()).toContain("'shape': (10, 20, 3)");
    expect(npy.length).toBe(10 + headerLen + 600);
    const raw = await request(s.app).get(
      '/slides/tumor_083/region?x=900&y=700&width=20&height=10&level=0&format=raw&layer=mask',
    );
    expect(raw.headers['x-array-shape']).toBe('10,20');
  });

  it('pads outside the slide with white and resamples mpp from the finer level', async () => {
    const res = await request(s.app)
      .get('/slides/tumor_083/region?x=2990&y=2390&width=20&height=20&level=0&format=raw')
      .buffer(true)
      .parse(binary);
    const px = res.body as Buffer;
    expect(px.subarray((19 * 20 + 19) * 3, (19 * 20 + 19) * 3 + 3)).toEqual(Buffer.from([255, 255, 255]));
    const mpp = await request(s.app)
      .get('/slides/tumor_083/region?x=0&y=0&width=100&height=100&mpp=0.5&format=png')
      .buffer(true)
      .parse(binary);
    expect(await sharp(mpp.body as Buffer).metadata()).toMatchObject({ width: 100, height: 100 });
  });

  it.each([
    ['x=0&y=0&width=10', 400],
    ['x=-10&y=0&width=10&height=10', 422],
    ['x=0&y=0&width=0&height=10', 400],
    ['x=0&y=0&width=8000&height=8000', 413],
    ['x=0&y=0&width=10&height=10&level=1&mpp=1', 400],
    ['x=0&y=0&width=10&height=10&level=12', 422],
    ['x=0&y=0&width=10&height=10&layer=mask&format=jpeg', 400],
    ['x=1.5&y=0&width=10&height=10', 400],
    ['x=0&y=0&width=10&height=10&format=tiff', 400],
  ])('%s -> %i', async (q, status) => {
    const res = await request(s.app).get(`/slides/tumor_083/region?${q}`);
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toMatch(/problem\+json/);
  });
});

describe('POST /batches', () => {
  it('streams a WebDataset tar: image, mask and descriptor per sample, in index order', async () => {
    const body = { classes: ['metastasis', 'adipose'], size: 64, count: 6, seed: 11, format: 'png' };
    const res = await request(s.app).post('/batches').send(body).buffer(true).parse(binary);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/x-tar');
    const entries = await untar(res.body as Buffer);
    const keys = [...entries.keys()];
    expect(keys.slice(0, 3)).toEqual(['000000.png', '000000.mask.png', '000000.json']);
    expect(keys).toHaveLength(18);
    const described = (await samples(body)).items;
    for (const d of described) {
      const key = String(d.index).padStart(6, '0');
      expect(JSON.parse(entries.get(`${key}.json`)!.toString())).toEqual(d);
      const mask = await sharp(entries.get(`${key}.mask.png`)!)
        .extractChannel(0)
        .raw()
        .toBuffer();
      expect(Buffer.compare(mask, await maskOf(d.maskUrl))).toBe(0);
      expect(await sharp(entries.get(`${key}.png`)!).metadata()).toMatchObject({ width: 64, height: 64 });
    }
  });

  it('answers a bad body with a problem before streaming', async () => {
    const res = await request(s.app)
      .post('/batches')
      .send({ classes: ['nope'] });
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/problem\+json/);
  });
});
