/**
 * The training loop's side of the patch endpoints: validation messages that name the field,
 * classIndex in descriptors and batches, patches at the top and left edges, lossless batches.
 */
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { untar } from '../support/tar.js';
import { binary, serveCore, type Served } from '../support/app-fixture.js';

let s: Served;
beforeAll(async () => {
  s = await serveCore();
});
afterAll(() => s.cleanup());

describe('validation messages', () => {
  it.each(['/samples', '/batches'])('%s names a misspelt field and the field it meant', async (path) => {
    const res = await request(s.app)
      .post(path)
      .send({ classes: ['adipose'], minfraction: 0.5 });
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/problem\+json/);
    expect(res.body.code).toBe('VALIDATION_FAILED');
    expect(res.body.detail).toBe('body.minfraction is not a field here (did you mean "minFraction"?)');
  });

  it('names the nested field and its bound', async () => {
    const res = await request(s.app)
      .post('/samples')
      .send({ classes: ['adipose'], region: { rect: { x: 0, y: 0, width: 0, height: 5 } } });
    expect(res.status).toBe(400);
    expect(res.body.detail).toBe('body.region.rect.width must be > 0');
  });
});

type Item = {
  index: number;
  slideId: string;
  x: number;
  y: number;
  width: number;
  height: number;
  class: string;
  classValue: number;
  classIndex: number;
  imageUrl: string;
  maskUrl: string;
};

const get = async (url: string) => {
  const res = await request(s.app).get(url).buffer(true).parse(binary);
  expect(res.status, url).toBe(200);
  return res.body as Buffer;
};

describe('classIndex', () => {
  it("is the position in the request's classes of the entry that selected the class", async () => {
    const body = { classes: ['metastasis', 'background'], minFraction: 0.3, size: 64, count: 30, seed: 4 };
    const res = await request(s.app).post('/samples').send(body);
    expect(res.status).toBe(200);
    expect(res.body.classes).toEqual(['metastasis', 'background']);
    const items = res.body.items as Item[];
    // a category's classes share its index
    expect(new Set(items.map((i) => i.class))).toEqual(new Set(['metastasis', 'adipose', 'connective-tissue']));
    for (const i of items) expect([i.class, i.classIndex]).toEqual([i.class, i.class === 'metastasis' ? 0 : 1]);
    const reversed = (
      await request(s.app)
        .post('/samples')
        .send({ ...body, classes: ['metastasis', 3] })
    ).body;
    expect(reversed.classes).toEqual(['metastasis', 3]);
    for (const i of reversed.items as Item[]) expect(i.classIndex).toBe(i.classValue === 1 ? 0 : 1);
  });

  it('is in every descriptor of a batch', async () => {
    const body = { classes: ['adipose', 'metastasis'], size: 32, count: 4, seed: 2 };
    const res = await request(s.app).post('/batches').send(body).buffer(true).parse(binary);
    const entries = await untar(res.body as Buffer);
    const described = [0, 1, 2, 3].map((k) => JSON.parse(entries.get(`00000${k}.json`)!.toString()) as Item);
    expect(described.map((d) => d.classIndex)).toEqual(described.map((d) => (d.class === 'adipose' ? 0 : 1)));
  });
});

describe('lossless batches', () => {
  const body = { classes: ['metastasis', 'adipose'], size: 48, count: 3, seed: 9 };

  it('npy: image and mask arrays, the same bytes as /region serves', async () => {
    const res = await request(s.app)
      .post('/batches')
      .send({ ...body, format: 'npy' })
      .buffer(true)
      .parse(binary);
    expect(res.status).toBe(200);
    const entries = await untar(res.body as Buffer);
    expect([...entries.keys()].slice(0, 3)).toEqual(['000000.npy', '000000.mask.npy', '000000.json']);
    expect(entries.size).toBe(9);
    for (let k = 0; k < 3; k++) {
      const d = JSON.parse(entries.get(`00000${k}.json`)!.toString()) as Item;
      expect(d.imageUrl).toMatch(/format=npy/);
      const image = entries.get(`00000${k}.npy`)!;
      expect(image.subarray(10, 10 + image.readUInt16LE(8)).toString()).toContain("'shape': (48, 48, 3)");
      expect(Buffer.compare(image, await get(d.imageUrl))).toBe(0);
      expect(Buffer.compare(entries.get(`00000${k}.mask.npy`)!, await get(`${d.maskUrl}&format=npy`))).toBe(0);
    }
  });

  it('raw: bare bytes, height x width x 3 and height x width', async () => {
    const res = await request(s.app)
      .post('/batches')
      .send({ ...body, format: 'raw' })
      .buffer(true)
      .parse(binary);
    const entries = await untar(res.body as Buffer);
    expect([...entries.keys()].slice(0, 3)).toEqual(['000000.raw', '000000.mask.raw', '000000.json']);
    for (let k = 0; k < 3; k++) {
      const d = JSON.parse(entries.get(`00000${k}.json`)!.toString()) as Item;
      const image = entries.get(`00000${k}.raw`)!;
      expect(image.length).toBe(d.height * d.width * 3);
      expect(Buffer.compare(image, await get(d.imageUrl))).toBe(0);
      const mask = entries.get(`00000${k}.mask.raw`)!;
      expect(Buffer.compare(mask, await get(`${d.maskUrl}&format=raw`))).toBe(0);
      expect(mask.some((v) => v === d.classValue)).toBe(true);
    }
  });
});

describe('regions over the top and left edges', () => {
  const raw = (q: string) => get(`/slides/tumor_083/region?${q}&format=raw`);
  const WHITE = [255, 255, 255];
  const px = (img: Buffer, width: number, col: number, row: number) => [
    ...img.subarray((row * width + col) * 3, (row * width + col) * 3 + 3),
  ];

  it('pads pixels off the slide with white glass, and the rest is the slide', async () => {
    const img = await raw('x=-10&y=-6&width=20&height=16&level=0');
    const inside = await raw('x=0&y=0&width=10&height=10&level=0');
    for (let row = 0; row < 16; row++) {
      for (let col = 0; col < 20; col++) {
        const expected = row < 6 || col < 10 ? WHITE : px(inside, 10, col - 10, row - 6);
        expect(px(img, 20, col, row), `${col},${row}`).toEqual(expected);
      }
    }
    expect(inside.some((v) => v !== 255)).toBe(true); // the slide's corner is not glass itself
  });

  it("pads labels off the slide with 0, and the rest is the slide's labels", async () => {
    // Somewhere labelled along the top edge: the mask of the top rows of the slide.
    const top = await get('/slides/tumor_083/region?x=0&y=0&width=3000&height=8&level=0&layer=mask&format=raw');
    const labelledX = top.findIndex((v) => v !== 0);
    expect(labelledX).toBeGreaterThanOrEqual(0);
    const x = Math.max(0, labelledX - 4);
    const mask = await get(`/slides/tumor_083/region?x=${x}&y=-8&width=8&height=16&level=0&layer=mask&format=raw`);
    const inside = await get(`/slides/tumor_083/region?x=${x}&y=0&width=8&height=8&level=0&layer=mask&format=raw`);
    expect([...mask.subarray(0, 64)]).toEqual(new Array(64).fill(0));
    expect(Buffer.compare(mask.subarray(64), inside)).toBe(0);
    expect(inside.some((v) => v !== 0)).toBe(true);
  });

  it('pads at a target mpp too', async () => {
    const img = await raw('x=-40&y=-40&width=20&height=20&mpp=1'); // 20 px of 1 um: ~82 level-0 px
    expect(px(img, 20, 0, 0)).toEqual(WHITE);
    expect(px(img, 20, 19, 19)).not.toEqual(WHITE);
  });

  it.each([
    ['x=-20&y=0&width=20&height=10&level=0', 422], // ends where the slide starts: no overlap
    ['x=0&y=-10&width=20&height=10&level=0', 422],
    ['x=3000&y=0&width=20&height=10&level=0', 422], // the slide is 3000 x 2400
    ['x=0&y=2400&width=20&height=10&level=0', 422],
    ['x=-40&y=0&width=20&height=10&level=1', 422], // 20 px of level 1 (downsample 2) are 40 level-0 px
    ['x=-39&y=0&width=20&height=10&level=1', 200],
    ['x=-19&y=-9&width=20&height=10&level=0', 200],
    ['x=2999&y=2399&width=20&height=10&level=0', 200],
    ['x=-4294967296&y=0&width=20&height=10', 400],
  ])('%s -> %i', async (q, status) => {
    const res = await request(s.app).get(`/slides/tumor_083/region?${q}`);
    expect(res.status).toBe(status);
    if (status === 422) expect(res.body.code).toBe('REGION_OFF_SLIDE');
  });
});

describe('what a patch depends on (documented: seed, epoch, index and the rest of the request, count included)', () => {
  const base = { classes: ['metastasis', 'adipose'], minFraction: 0.3, size: 32, seed: 12 };
  const where = (items: Item[]) => items.map((i) => `${i.index}:${i.slideId}:${i.x}:${i.y}`);
  const post = async (body: object) => (await request(s.app).post('/samples').send(body)).body.items as Item[];

  it('the same request gives the same patches; another count gives others at the same indices', async () => {
    const of200 = await post({ ...base, count: 200 });
    expect(where(await post({ ...base, count: 200 }))).toEqual(where(of200));
    const of400 = (await post({ ...base, count: 400 })).slice(0, 200);
    const same = of400.filter((p, k) => where([p])[0] === where([of200[k]!])[0]).length;
    // The epoch plan (class quotas, strata, order) is laid out for the whole count: the first 200 of
    // 400 are not the 200 of a count of 200 (a few may coincide by chance).
    expect(same).toBeLessThan(100);
  });
});
