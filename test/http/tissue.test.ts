/**
 * Tissue detected at ingest, end to end on the demo: quality against the tissue the generator
 * drew (Dice, the real detector and threshold), the tissue mask layer in /region and mask tiles,
 * the tissue selectors in /samples and /batches, slides without labels, an index from before
 * tissue detection, and bad input.
 */
import Database from 'better-sqlite3';
import { cpSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDemoScenes } from '../../src/demo/generate.js';
import { ingest } from '../../src/indexer/ingest.js';
import { binary, serveDemo, serveIndex, TEST_SCALE, type Served } from '../support/app-fixture.js';
import { untar } from '../support/tar.js';
import { dice, truthTissue } from '../support/tissue-truth.js';

let s: Served;
beforeAll(async () => {
  s = await serveDemo();
}, 180_000);
afterAll(() => s.cleanup());

type Item = {
  slideId: string;
  x: number;
  y: number;
  sizeL0: number;
  class: string;
  classValue: number;
  classIndex: number;
  fractions: Record<string, number>;
};
const samples = async (app: Served['app'], body: object) => {
  const res = await request(app).post('/samples').send(body);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.items as Item[];
};
const raw = async (app: Served['app'], path: string) => {
  const res = await request(app).get(path).buffer(true).parse(binary);
  return { status: res.status, body: res.body as Buffer, json: () => JSON.parse(String(res.body)) };
};

describe('quality: Dice against the tissue the demo generator drew', () => {
  it.each(buildDemoScenes({ seed: 1, scale: TEST_SCALE }).map((sc) => [sc.id, sc] as const))(
    '%s: Dice >= 0.90',
    (id, scene) => {
      const g = s.generation();
      const r = g.tissue.raster(g.slide(id))!;
      expect(r).not.toBeNull();
      const stored = g.tissue.reader.region(r, 0, 0, 0, r.width, r.height);
      const d = dice(stored, truthTissue(scene, r.width, r.height, r.downsample));
      expect(d).toBeGreaterThanOrEqual(0.9);
    },
  );
});

describe('layer=tissue', () => {
  it('/region gives 0/1 on the same grid as the stored raster, losslessly in png and raw', async () => {
    const g = s.generation();
    const slide = g.slide('tumor_001');
    const r = g.tissue.raster(slide)!;
    // One output pixel per tissue raster pixel: the region is the stored raster, binarised.
    const q = `x=0&y=0&width=${r.width}&height=${r.height}&mpp=${(r.downsample * slide.mpp_x!).toFixed(6)}`;
    const a = await raw(s.app, `/slides/tumor_001/region?${q}&layer=tissue&format=raw`);
    expect(a.status).toBe(200);
    const stored = g.tissue.reader.region(r, 0, 0, 0, r.width, r.height);
    const mismatches = [...a.body].filter((v, i) => v !== (stored[i] ? 1 : 0)).length;
    expect(mismatches / stored.length).toBeLessThan(0.01);
    expect(new Set(a.body)).toEqual(new Set([0, 1]));
    const png = await raw(s.app, `/slides/tumor_001/region?${q}&layer=tissue`);
    const decoded = await sharp(png.body).extractChannel(0).raw().toBuffer();
    expect(Buffer.compare(decoded, a.body)).toBe(0);
  });

  it('mask tiles: raw 0/1, a green overlay, different from the label overlay', async () => {
    const dzi = await request(s.app).get('/slides/tumor_001/mask.dzi');
    expect(dzi.status).toBe(200);
    const top = Math.ceil(Math.log2(Math.max(3686, 2048)));
    const level = top - 3; // about 460 x 256: a few tiles
    const tile = await raw(s.app, `/slides/tumor_001/mask_files/${level}/0_0.png?layer=tissue`);
    expect(tile.status).toBe(200);
    const values = await sharp(tile.body).extractChannel(0).raw().toBuffer();
    expect(new Set(values)).toEqual(new Set([0, 1]));
    const tissue = await raw(s.app, `/slides/tumor_001/mask_files/${level}/0_0.png?layer=tissue&style=color`);
    const labels = await raw(s.app, `/slides/tumor_001/mask_files/${level}/0_0.png?style=color`);
    expect(tissue.status).toBe(200);
    expect(Buffer.compare(tissue.body, labels.body)).not.toBe(0);
    const rgba = await sharp(tissue.body).ensureAlpha().raw().toBuffer();
    const opaque = [];
    for (let i = 0; i < rgba.length; i += 4) if (rgba[i + 3]! > 0) opaque.push(rgba.subarray(i, i + 3).join(','));
    expect(new Set(opaque)).toEqual(new Set(['0,170,90']));
  });

  it('bad input: classes with layer=tissue, an unknown layer', async () => {
    const a = await raw(s.app, '/slides/tumor_001/mask_files/8/0_0.png?layer=tissue&style=color&classes=metastasis');
    expect([a.status, a.json().code]).toEqual([400, 'INVALID_PARAMETER']);
    expect(a.json().detail).toMatch(/classes/);
    const b = await raw(s.app, '/slides/tumor_001/region?x=0&y=0&width=8&height=8&layer=tisue');
    expect(b.status).toBe(400);
    expect(b.json().detail).toMatch(/layer/);
  });
});

describe('the tissue selectors in /samples and /batches', () => {
  it('classes: [tissue]: every patch is mostly tissue', async () => {
    const items = await samples(s.app, { classes: ['tissue'], count: 40, size: 256, minFraction: 0.6, seed: 3 });
    expect(items).toHaveLength(40);
    for (const it of items) {
      expect([it.class, it.classValue, it.classIndex]).toEqual(['tissue', 256, 0]);
      expect(it.fractions.tissue).toBeGreaterThanOrEqual(0.6);
      expect(it.fractions['unlabelled-tissue']).toBeLessThanOrEqual(it.fractions.tissue!);
    }
    expect(new Set(items.map((i) => i.slideId)).size).toBe(3);
  });

  it('next to a class, as region.within and as an exclusion', async () => {
    const items = await samples(s.app, {
      classes: ['metastasis', 'tissue'],
      count: 20,
      size: 128,
      seed: 5,
      region: { within: ['tissue'], withinFraction: 0.9 },
      exclude: { classes: ['unlabelled-tissue'], maxFraction: 0.05 },
    });
    expect(new Set(items.map((i) => i.class))).toEqual(new Set(['metastasis', 'tissue']));
    for (const it of items) {
      expect(it.fractions.tissue).toBeGreaterThanOrEqual(0.9);
      expect(it.fractions['unlabelled-tissue']).toBeLessThanOrEqual(0.05);
      expect(it.classIndex).toBe(it.class === 'metastasis' ? 0 : 1);
    }
  });

  it('a request without tissue selectors keeps its fractions as they were (no tissue keys)', async () => {
    const [it] = await samples(s.app, { classes: ['metastasis'], count: 1, size: 64 });
    expect(Object.keys(it!.fractions)).not.toContain('tissue');
  });

  it('/batches streams tissue patches with their masks', async () => {
    const res = await request(s.app)
      .post('/batches')
      .send({ classes: ['tissue'], count: 2, size: 64, format: 'png' })
      .buffer(true)
      .parse(binary);
    expect(res.status).toBe(200);
    const entries = await untar(res.body as Buffer);
    expect([...entries.keys()].filter((k) => k.endsWith('.json'))).toHaveLength(2);
  });

  it.each([
    [{ classes: ['tisue'] }, 'classes'],
    [{ classes: ['metastasis'], region: { within: ['tissues'] } }, 'region.within'],
    [{ classes: ['metastasis'], exclude: { classes: ['unlabeled-tissue'] } }, 'exclude.classes'],
  ])('unknown selector %j: 400 naming %s', async (body, field) => {
    const res = await request(s.app)
      .post('/samples')
      .send({ count: 1, size: 64, ...body });
    expect([res.status, res.body.code]).toEqual([400, 'UNKNOWN_CLASS']);
    expect(res.body.detail).toContain(`${field}:`);
  });
});

describe('slides without any label file', () => {
  let app: Served['app'];
  beforeAll(async () => {
    const dataDir = join(s.dir, 'unlabelled');
    mkdirSync(dataDir, { recursive: true });
    cpSync(join(s.dataDir, 'slides'), join(dataDir, 'slides'), { recursive: true });
    const indexPath = join(s.dir, 'unlabelled-index', 'index.sqlite');
    const report = await ingest({ dataDir, indexPath });
    expect(report.problems).toEqual([]);
    app = (await serveIndex(dataDir, indexPath)).app;
  }, 120_000);

  it('are indexed with tissue alone and sampled by it: all their tissue is unlabelled', async () => {
    const items = await samples(app, { classes: ['unlabelled-tissue'], count: 30, size: 128, seed: 2 });
    expect(new Set(items.map((i) => i.slideId)).size).toBe(3);
    for (const it of items) {
      expect(it.fractions['unlabelled-tissue']).toBe(it.fractions.tissue);
      expect(it.fractions['unlabelled-tissue']).toBeGreaterThanOrEqual(0.5);
      expect(it.fractions.unlabelled).toBe(1);
    }
    const none = await request(app)
      .post('/samples')
      .send({ classes: ['metastasis'], count: 1, size: 64 });
    expect(none.status).toBe(422);
  });

  it('have grid rows with their tissue', async () => {
    const res = await request(app).get('/slides/tumor_002/grid?size=128&format=json');
    expect(res.status).toBe(200);
    const rows = res.body as Array<Record<string, number>>;
    expect(rows.every((r) => r.labelled === 0)).toBe(true);
    expect(rows.some((r) => r.tissue! > 0.9)).toBe(true);
  });
});

describe('an index written before tissue detection', () => {
  let app: Served['app'];
  let indexPath: string;
  beforeAll(async () => {
    indexPath = join(s.dir, 'old-index', 'index.sqlite');
    mkdirSync(join(s.dir, 'old-index'), { recursive: true });
    cpSync(s.indexPath, indexPath);
    const db = new Database(indexPath);
    // What a schema-1 ingest left for this slide: no tissue rows.
    for (const t of ['tissue_rasters', 'tissue_tiles', 'tissue_tile_counts'])
      db.prepare(`DELETE FROM ${t} WHERE slide_id = ?`).run('tumor_002');
    db.close();
    app = (await serveIndex(s.dataDir, indexPath)).app;
  });

  it.each([
    ['/slides/tumor_002/region?x=0&y=0&width=64&height=64&layer=tissue', 'layer'],
    ['/slides/tumor_002/mask_files/8/0_0.png?layer=tissue', 'layer'],
  ])('GET %s: 409 TISSUE_NOT_INDEXED naming %s', async (path, field) => {
    const res = await raw(app, path);
    expect([res.status, res.json().code]).toEqual([409, 'TISSUE_NOT_INDEXED']);
    expect(res.json().detail).toMatch(new RegExp(`^${field}: slide "tumor_002"`));
  });

  it('a request naming the slide with a tissue selector: 409 naming the field', async () => {
    const res = await request(app)
      .post('/samples')
      .send({ classes: ['metastasis'], slides: ['tumor_002'], exclude: { classes: ['tissue'] }, count: 1, size: 64 });
    expect([res.status, res.body.code]).toEqual([409, 'TISSUE_NOT_INDEXED']);
    expect(res.body.detail).toMatch(/^exclude.classes:/);
  });

  it('the next ingest rebuilds that slide alone, and the one after is a no-op', async () => {
    const first = await ingest({ dataDir: s.dataDir, indexPath });
    expect(first.indexed).toEqual(['tumor_002']);
    const second = await ingest({ dataDir: s.dataDir, indexPath });
    expect([second.published, second.indexed]).toEqual([false, []]);
  });
});
