/**
 * The training loop's side of the patch endpoints: validation messages that name the field,
 * classIndex in descriptors and batches, patches at the top and left edges, lossless batches.
 */
import { Readable } from 'node:stream';
import request from 'supertest';
import tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { binary, serveCore, type Served } from '../support/app-fixture.js';

let s: Served;
beforeAll(async () => {
  s = await serveCore();
});
afterAll(() => s.cleanup());

describe('validation messages', () => {
  it.each(['/samples', '/batches'])('%s names a misspelt field and the field it meant', async (path) => {
    const res = await request(s.app).post(path).send({ classes: ['adipose'], minfraction: 0.5 });
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/problem\+json/);
    expect(res.body.code).toBe('VALIDATION_FAILED');
    expect(res.body.detail).toBe('body.minfraction is not a field here (did you mean "minFraction"?)');
  });

  it('names the nested field and its bound', async () => {
    const res = await request(s.app).post('/samples').send({ classes: ['adipose'], region: { rect: { x: 0, y: 0, width: 0, height: 5 } } });
    expect(res.status).toBe(400);
    expect(res.body.detail).toBe('body.region.rect.width must be > 0');
  });
});

type Item = { index: number; slideId: string; x: number; y: number; width: number; height: number; class: string; classValue: number; classIndex: number; imageUrl: string; maskUrl: string };

const get = async (url: string) => {
  const res = await request(s.app).get(url).buffer(true).parse(binary);
  expect(res.status, url).toBe(200);
  return res.body as Buffer;
};

async function untar(body: Buffer): Promise<Map<string, Buffer>> {
  const entries = new Map<string, Buffer>();
  const extract = tar.extract();
  await new Promise<void>((resolve, reject) => {
    extract.on('entry', (h, stream, next) => {
      const parts: Buffer[] = [];
      stream.on('data', (c: unknown) => parts.push(c as Buffer));
      stream.on('end', () => {
        entries.set(h.name, Buffer.concat(parts));
        next();
      });
    });
    extract.on('finish', resolve).on('error', reject);
    Readable.from([body]).pipe(extract);
  });
  return entries;
}

describe('classIndex', () => {
  it('is the position in the request\'s classes of the entry that selected the class', async () => {
    const body = { classes: ['metastasis', 'background'], minFraction: 0.3, size: 64, count: 30, seed: 4 };
    const res = await request(s.app).post('/samples').send(body);
    expect(res.status).toBe(200);
    expect(res.body.classes).toEqual(['metastasis', 'background']);
    const items = res.body.items as Item[];
    // a category's classes share its index
    expect(new Set(items.map((i) => i.class))).toEqual(new Set(['metastasis', 'adipose', 'connective-tissue']));
    for (const i of items) expect([i.class, i.classIndex]).toEqual([i.class, i.class === 'metastasis' ? 0 : 1]);
    const reversed = (await request(s.app).post('/samples').send({ ...body, classes: ['metastasis', 3] })).body;
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
    const res = await request(s.app).post('/batches').send({ ...body, format: 'npy' }).buffer(true).parse(binary);
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
    const res = await request(s.app).post('/batches').send({ ...body, format: 'raw' }).buffer(true).parse(binary);
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
