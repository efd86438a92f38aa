/**
 * region.near through /samples and /batches on the demo data: every centre in the band (checked
 * against brute force at full label resolution, within the stated bound), the band covered,
 * reproducible by seed, combined with the other region parts, and bad input as problems.
 */
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type express from 'express';
import { LABEL_TILE_SIZE } from '../../src/labels/raster.js';
import { labelRaster } from '../../src/labels/slide-raster.js';
import { nearShift } from '../../src/patches/distance.js';
import { binary, serveDemo, serveIndex, type Served } from '../support/app-fixture.js';
import { untar } from '../support/tar.js';

let s: Served;
/** The same index served with coarse distance cells (8 x 8 label pixels on these slides). */
let coarse: express.Express;
/** And with no distance field or band kept between requests. */
let uncached: express.Express;
beforeAll(async () => {
  s = await serveDemo();
  coarse = (await serveIndex(s.dataDir, s.indexPath, { nearMaxCells: 1024 })).app;
  uncached = (await serveIndex(s.dataDir, s.indexPath, { nearCacheBytes: 0 })).app;
});
afterAll(() => s.cleanup());

type Item = {
  index: number;
  slideId: string;
  x: number;
  y: number;
  sizeL0: number;
  class: string;
  fractions: Record<string, number>;
  distanceUm?: number;
  distanceErrorUm?: number;
};

const samples = async (body: object, app: express.Express = s.app) => {
  const res = await request(app).post('/samples').send(body);
  if (res.status !== 200) throw new Error(`${res.status} ${JSON.stringify(res.body)}`);
  return res.body as { items: Item[] };
};

const METASTASIS = 1;

/** Per slide: centres of the metastasis label pixels (level-0), and their 8-connected component. */
function truthOf(slideId: string) {
  const g = s.generation();
  const slide = g.slide(slideId);
  const r = labelRaster(slide)!;
  const px = g.labels.region(r, 0, 0, 0, r.width, r.height);
  const comp = new Int32Array(px.length).fill(-1);
  const centres: Array<{ x: number; y: number; c: number }> = [];
  let next = 0;
  for (let i = 0; i < px.length; i++) {
    if (px[i] !== METASTASIS || comp[i]! >= 0) continue;
    const stack = [i];
    comp[i] = next;
    while (stack.length > 0) {
      const j = stack.pop()!;
      centres.push({
        x: ((j % r.width) + 0.5) * r.downsample,
        y: (Math.floor(j / r.width) + 0.5) * r.downsample,
        c: next,
      });
      for (let dy = -1; dy <= 1; dy++)
        for (let dx = -1; dx <= 1; dx++) {
          const x = (j % r.width) + dx;
          const y = Math.floor(j / r.width) + dy;
          const k = y * r.width + x;
          if (x < 0 || y < 0 || x >= r.width || y >= r.height || px[k] !== METASTASIS || comp[k]! >= 0) continue;
          comp[k] = next;
          stack.push(k);
        }
    }
    next++;
  }
  return { mpp: slide.mpp_x!, downsample: r.downsample, width: r.width, height: r.height, centres, components: next };
}

const truths = new Map<string, ReturnType<typeof truthOf>>();
/** Brute force: distance (um) from the patch centre to the nearest metastasis pixel centre, and its component. */
function nearest(item: Item): { um: number; component: number } {
  let t = truths.get(item.slideId);
  if (!t) truths.set(item.slideId, (t = truthOf(item.slideId)));
  const cx = item.x + item.sizeL0 / 2;
  const cy = item.y + item.sizeL0 / 2;
  let best = Infinity;
  let component = -1;
  for (const p of t.centres) {
    const d = Math.hypot(p.x - cx, p.y - cy);
    if (d < best) [best, component] = [d, p.c];
  }
  return { um: best * t.mpp, component };
}

const ring = {
  classes: ['lymph-node-parenchyma', 'adipose', 'connective-tissue'],
  balance: 'classes',
  minFraction: 0.3,
  size: 32,
  level: 0,
  count: 600,
  seed: 5,
};

describe('region.near', () => {
  it.each([
    ['fine cells (one label pixel)', () => s.app, 10, 150],
    ['coarse cells (8 x 8 label pixels)', () => coarse, 40, 250],
  ])('puts every centre in the band, by brute force within the bound: %s', async (_, app, outsideUm, withinUm) => {
    const body = { ...ring, region: { near: { classes: ['metastasis'], outsideUm, withinUm } } };
    const { items } = await samples(body, app());
    expect(items).toHaveLength(600);
    const mid = (outsideUm + withinUm) / 2;
    let inner = 0;
    const components = new Set<string>();
    for (const it of items) {
      expect(it.distanceUm).toBeGreaterThanOrEqual(outsideUm);
      expect(it.distanceUm).toBeLessThanOrEqual(withinUm);
      const truth = nearest(it);
      expect(Math.abs(truth.um - it.distanceUm!)).toBeLessThanOrEqual(it.distanceErrorUm!);
      if (it.distanceUm! < mid) inner++;
      components.add(`${it.slideId}:${truth.component}`);
    }
    // The band is covered: both halves of the ring, several lesions, every class asked.
    expect(inner).toBeGreaterThan(items.length * 0.1);
    expect(inner).toBeLessThan(items.length * 0.9);
    expect(components.size).toBeGreaterThanOrEqual(3);
    expect(new Set(items.map((i) => i.class)).size).toBe(3);
    // The stated bound is the cell diagonal: one label pixel here, the pooled cell on the coarse service.
    for (const it of items) {
      const t = truths.get(it.slideId)!;
      const cell = app() === coarse ? 2 ** nearShift(t.width, t.height, 1024, LABEL_TILE_SIZE) : 1;
      if (app() === coarse) expect(cell).toBeGreaterThan(1);
      expect(it.distanceErrorUm).toBeCloseTo(cell * t.downsample * t.mpp * Math.SQRT2, 9);
    }
  });

  it('is reproducible by seed; another seed gives other centres', async () => {
    const body = { ...ring, count: 100, region: { near: { classes: ['metastasis'], withinUm: 100 } } };
    const a = await samples(body);
    expect(await samples(body)).toEqual(a);
    const b = await samples({ ...body, seed: 6 });
    expect(b.items.map((i) => [i.x, i.y])).not.toEqual(a.items.map((i) => [i.x, i.y]));
    // The caches change nothing but the time: built afresh for each request, the same patches.
    expect(await samples(body, uncached)).toEqual(a);
    expect(await samples(body, uncached)).toEqual(a);
  });

  it('withinUm 0 keeps centres on the class itself; descriptors without near carry no distance', async () => {
    const inside = await samples({
      classes: ['metastasis'],
      criterion: 'center',
      size: 32,
      count: 50,
      region: { near: { classes: ['diagnostic'], withinUm: 0 } },
    });
    for (const it of inside.items) expect(it.distanceUm).toBe(0);
    const plain = await samples({ classes: ['metastasis'], size: 32, count: 5 });
    for (const it of plain.items) expect(it).not.toHaveProperty('distanceUm');
  });

  it('combines with a region rectangle and exclusions', async () => {
    const rect = { x: 0, y: 0, width: 2000, height: 2000 };
    const { items } = await samples({
      ...ring,
      classes: ['lymph-node-parenchyma', 'connective-tissue'],
      count: 200,
      slides: ['tumor_001'],
      exclude: { classes: ['metastasis'], maxFraction: 0 },
      region: { rect, near: { classes: ['metastasis'], withinUm: 120 } },
    });
    for (const it of items) {
      const cx = it.x + it.sizeL0 / 2;
      const cy = it.y + it.sizeL0 / 2;
      expect(cx).toBeLessThan(2000);
      expect(cy).toBeLessThan(2000);
      expect(it.fractions.metastasis ?? 0).toBe(0);
      expect(it.distanceUm).toBeLessThanOrEqual(120);
      expect(nearest(it).um).toBeLessThanOrEqual(120 + it.distanceErrorUm!);
    }
  });

  it('streams batches whose descriptors carry the distance', async () => {
    const res = await request(s.app)
      .post('/batches')
      .send({ ...ring, count: 4, format: 'raw', region: { near: { classes: ['metastasis'], withinUm: 80 } } })
      .buffer(true)
      .parse(binary);
    expect(res.status).toBe(200);
    const files = await untar(res.body as Buffer);
    const json = [...files].filter(([n]) => n.endsWith('.json')).map(([, b]) => JSON.parse(b.toString()) as Item);
    expect(json).toHaveLength(4);
    for (const it of json) expect(it.distanceUm).toBeLessThanOrEqual(80);
  });

  it('says so when no pixel of the classes lies in the band', async () => {
    const res = await request(s.app)
      .post('/samples')
      .send({
        classes: ['metastasis'],
        region: { near: { classes: ['metastasis'], outsideUm: 900000, withinUm: 1000000 } },
      });
    expect(res.status).toBe(422);
    expect(res.body.code).toBe('CLASS_NOT_PRESENT');
    expect(res.body.detail).toContain('region.near');
  });

  const near = (n: unknown) => JSON.stringify({ classes: ['adipose'], region: { near: n } });
  it.each([
    [
      'D < d',
      near({ classes: ['metastasis'], outsideUm: 200, withinUm: 100 }),
      'VALIDATION_FAILED',
      'region.near.withinUm',
    ],
    ['negative withinUm', near({ classes: ['metastasis'], withinUm: -1 }), 'VALIDATION_FAILED', 'region.near.withinUm'],
    [
      'negative outsideUm',
      near({ classes: ['metastasis'], withinUm: 1, outsideUm: -5 }),
      'VALIDATION_FAILED',
      'region.near.outsideUm',
    ],
    [
      'non-finite withinUm',
      near({ classes: ['metastasis'], withinUm: 1 }).replace('"withinUm":1', '"withinUm":1e400'),
      'VALIDATION_FAILED',
      'region.near.withinUm',
    ],
    [
      'withinUm not a number',
      near({ classes: ['metastasis'], withinUm: 'far' }),
      'VALIDATION_FAILED',
      'region.near.withinUm',
    ],
    ['no withinUm', near({ classes: ['metastasis'] }), 'VALIDATION_FAILED', 'region.near.withinUm'],
    ['unknown class', near({ classes: ['tumour'], withinUm: 10 }), 'UNKNOWN_CLASS', 'region.near.classes'],
    ['empty classes', near({ classes: [], withinUm: 10 }), 'VALIDATION_FAILED', 'region.near.classes'],
    ['only unlabelled', near({ classes: ['unlabelled'], withinUm: 10 }), 'VALIDATION_FAILED', 'region.near.classes'],
    [
      'a tissue selector in region.near.classes',
      near({ classes: ['tissue'], withinUm: 10 }),
      'VALIDATION_FAILED',
      'region.near.classes',
    ],
    [
      'a tissue selector in classes with region.near',
      JSON.stringify({ classes: ['unlabelled-tissue'], region: { near: { classes: ['metastasis'], withinUm: 10 } } }),
      'VALIDATION_FAILED',
      'classes',
    ],
    [
      'unknown field',
      near({ classes: ['metastasis'], withinUm: 10, withinMm: 1 }),
      'VALIDATION_FAILED',
      'region.near.withinMm',
    ],
  ])('%s: a 400 naming the field', async (_, body, code, field) => {
    const res = await request(s.app).post('/samples').set('Content-Type', 'application/json').send(body);
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.body.code).toBe(code);
    expect(res.body.detail).toContain(field);
  });
});
