/**
 * Patch-level label tables through HTTP on the core dataset: fractions equal /samples' for the
 * same rectangle, exactly; CSV, JSON and Parquet hold the same numbers, read back by DuckDB (an
 * independent reader of both Parquet and CSV); the dataset-wide table is every slide's; bad input.
 */
import { DuckDBInstance } from '@duckdb/node-api';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { binary, serveCore, type Served } from '../support/app-fixture.js';

let s: Served;
let classNames: string[];
let labelledSlide: string;
beforeAll(async () => {
  s = await serveCore();
  classNames = (await request(s.app).get('/classes')).body.items.map((c: { name: string }) => c.name);
  labelledSlide = (
    await request(s.app)
      .post('/samples')
      .send({ classes: ['metastasis'], count: 1, size: 64 })
  ).body.items[0].slideId;
}, 120_000);
afterAll(() => s.cleanup());

type Row = Record<string, string | number>;
const jsonGrid = async (path: string) => {
  const res = await request(s.app).get(path);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as Row[];
};
const text = async (path: string) => {
  const res = await request(s.app).get(path).buffer(true).parse(binary);
  expect(res.status).toBe(200);
  return res.body as Buffer;
};
const query = async (sql: string) => {
  const db = await DuckDBInstance.create(':memory:');
  const con = await db.connect();
  try {
    return (await con.runAndReadAll(sql)).getRowObjectsJS();
  } finally {
    con.closeSync();
    db.closeSync();
  }
};

describe('fractions equal /samples for the same rectangle', () => {
  it.each([
    [{ level: 0, size: 64 }, 'level=0&size=64'],
    [{ mpp: 0.5, size: 32 }, 'mpp=0.5&size=32'],
  ])('%j', async (res, q) => {
    const items = (
      await request(s.app)
        .post('/samples')
        .send({ classes: ['metastasis', 'adipose'], minFraction: 0.2, count: 12, seed: 4, ...res })
    ).body.items as Array<Row & { fractions: Record<string, number>; sizeL0: number }>;
    expect(items.length).toBe(12);
    for (const it of items) {
      const rows = await jsonGrid(
        `/slides/${it.slideId}/grid?${q}&x=${it.x}&y=${it.y}&width=${Math.ceil(it.sizeL0)}&height=${Math.ceil(it.sizeL0)}&format=json`,
      );
      expect(rows).toHaveLength(1);
      const row = rows[0]!;
      expect([row.x, row.y, row.sizeL0]).toEqual([it.x, it.y, it.sizeL0]);
      const nonZero = Object.fromEntries(classNames.filter((c) => (row[c] as number) > 0).map((c) => [c, row[c]]));
      expect(nonZero).toEqual(it.fractions);
    }
  });
});

describe('the tissue columns equal /samples with tissue selectors for the same rectangle', () => {
  it('classes: [tissue, unlabelled-tissue]', async () => {
    const res = await request(s.app)
      .post('/samples')
      .send({ classes: ['tissue', 'unlabelled-tissue'], count: 10, seed: 9, size: 64, level: 0 });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const items = res.body.items as Array<Row & { fractions: Record<string, number>; sizeL0: number }>;
    expect(items.length).toBe(10);
    for (const it of items) {
      const rows = await jsonGrid(
        `/slides/${it.slideId}/grid?level=0&size=64&x=${it.x}&y=${it.y}&width=${it.sizeL0}&height=${it.sizeL0}&format=json`,
      );
      expect(rows).toHaveLength(1);
      expect(rows[0]!.tissue).toBe(it.fractions.tissue);
      expect(rows[0]!['unlabelled-tissue']).toBe(it.fractions['unlabelled-tissue']);
      expect(it.fractions[it.class as string]).toBeGreaterThanOrEqual(0.5);
    }
  });
});

describe('formats', () => {
  it('CSV, JSON and Parquet (read by DuckDB) hold the same rows and numbers', async () => {
    const q = `/slides/${labelledSlide}/grid?size=64&stride=48`;
    const json = await jsonGrid(`${q}&format=json`);
    expect(json.length).toBeGreaterThan(50);
    const csv = await text(`${q}&format=csv`);
    const parquet = await text(`${q}&format=parquet`);
    expect(parquet.subarray(0, 4).toString()).toBe('PAR1');
    const csvPath = join(s.dir, 'grid.csv');
    const pqPath = join(s.dir, 'grid.parquet');
    writeFileSync(csvPath, csv);
    writeFileSync(pqPath, parquet);
    const header = csv.toString().split('\n')[0]!.split(',');
    expect(header).toEqual([
      'slideId',
      'x',
      'y',
      'sizeL0',
      ...classNames,
      'labelled',
      'tissue',
      'unlabelled-tissue',
      'majority',
    ]);
    expect(json.some((r) => (r.tissue as number) > 0.5)).toBe(true);
    const fromPq = await query(`SELECT * FROM read_parquet('${pqPath}')`);
    const fromCsv = await query(`SELECT * FROM read_csv('${csvPath}', header = true, all_varchar = true)`);
    expect(fromPq).toHaveLength(json.length);
    expect(fromCsv).toHaveLength(json.length);
    fromPq.forEach((r, i) => {
      const want = json[i]!;
      expect(Number(r.x)).toBe(want.x);
      expect(Number(r.y)).toBe(want.y);
      expect(r.majority).toBe(want.majority);
      for (const c of [...classNames, 'labelled', 'tissue', 'unlabelled-tissue', 'sizeL0']) {
        expect(r[c]).toBe(want[c]);
        // CSV numbers are printed shortest round-trip: parsing gives back the same double.
        expect(Number(fromCsv[i]![c])).toBe(want[c]);
      }
    });
    // Counts and totals agree through DuckDB's own aggregation too.
    const agg = (path: string, reader: string) =>
      query(
        `SELECT count(*) AS n, sum(metastasis) AS m, count(*) FILTER (WHERE majority = 'metastasis') AS maj FROM ${reader}('${path}')`,
      );
    const [a] = await agg(pqPath, 'read_parquet');
    const [b] = await agg(csvPath, 'read_csv');
    expect(Number(a!.n)).toBe(Number(b!.n));
    expect(Number(a!.maj)).toBe(Number(b!.maj));
    expect(a!.m as number).toBeCloseTo(b!.m as number, 9);
    expect(Number(a!.maj)).toBe(json.filter((r) => r.majority === 'metastasis').length);
  });

  it('the dataset-wide table is the tables of every labelled slide, one after the other', async () => {
    const all = await jsonGrid('/grid?size=128&format=json');
    const ids = [...new Set(all.map((r) => r.slideId as string))];
    expect(ids.length).toBeGreaterThan(1);
    const perSlide = (await Promise.all(ids.map((id) => jsonGrid(`/slides/${id}/grid?size=128&format=json`)))).flat();
    expect(all).toEqual(perSlide);
    const csvRows = (await text('/grid?size=128')).toString().trim().split('\n').length - 1;
    expect(csvRows).toBe(all.length);
  });

  it('majority is a class name or empty, never a tissue selector, and agrees with the fractions', async () => {
    const all = await jsonGrid('/grid?size=128&format=json');
    // Cells mostly tissue but under no label: the tissue share passes a half while no class does.
    expect(all.some((r) => r.majority === '' && (r.tissue as number) > 0.5)).toBe(true);
    for (const r of all) {
      const over = classNames.filter((c) => c !== classNames[0] && (r[c] as number) > 0.5);
      expect(r.majority).toBe(over[0] ?? '');
    }
  });
});

describe('GET /slides/{id}/labels.geojson', () => {
  it('one QuPath annotation per class, outlining exactly the labelled area', async () => {
    const res = await request(s.app).get(`/slides/${labelledSlide}/labels.geojson?level=0`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/application\/geo\+json/);
    const fc = JSON.parse(res.text) as {
      type: string;
      features: Array<{
        geometry: { type: string; coordinates: number[][][][] };
        properties: { objectType: string; classification: { name: string; color: number[] } };
      }>;
    };
    expect(fc.type).toBe('FeatureCollection');
    const taxonomy = (await request(s.app).get('/classes')).body.items as Array<{ name: string; color: string }>;
    const slide = (await request(s.app).get(`/slides/${labelledSlide}`)).body as {
      classes: Array<{ name: string; areaPx: number }>;
    };
    expect(fc.features.map((f) => f.properties.classification.name).sort()).toEqual(
      slide.classes.map((c) => c.name).sort(),
    );
    const shoelace = (r: number[][]) =>
      r.slice(0, -1).reduce((a, p, i) => a + p[0]! * r[i + 1]![1]! - r[i + 1]![0]! * p[1]!, 0) / 2;
    for (const f of fc.features) {
      expect(f.properties.objectType).toBe('annotation');
      const hex = taxonomy.find((c) => c.name === f.properties.classification.name)!.color;
      expect(f.properties.classification.color).toEqual([1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)));
      expect(f.geometry.type).toBe('MultiPolygon');
      // Exteriors count positive, holes negative: the outlined area is the class's labelled area.
      const area = f.geometry.coordinates.flat().reduce((a, ring) => a + shoelace(ring), 0);
      expect(area).toBeCloseTo(slide.classes.find((c) => c.name === f.properties.classification.name)!.areaPx, 6);
    }
  });
});

describe('bad input', () => {
  it.each([
    ['/grid?size=4', 400, 'INVALID_PARAMETER'],
    ['/grid?stride=0', 400, 'INVALID_PARAMETER'],
    ['/grid?format=xml', 400, 'INVALID_PARAMETER'],
    ['/grid?level=0&mpp=1', 400, 'INVALID_PARAMETER'],
    ['/grid?x=0&y=0&width=10&height=10', 400, 'INVALID_PARAMETER'],
    ['/slides/nope/grid', 404, 'SLIDE_NOT_FOUND'],
    ['/slides/nope/labels.geojson', 404, 'SLIDE_NOT_FOUND'],
  ])('%s -> %i %s', async (path, status, code) => {
    const res = await request(s.app).get(path);
    expect([res.status, res.body.code]).toEqual([status, code]);
  });

  it('a partial rectangle, a level the slide lacks', async () => {
    const a = await request(s.app).get(`/slides/${labelledSlide}/grid?x=0&y=0`);
    expect([a.status, a.body.code]).toEqual([400, 'INVALID_PARAMETER']);
    const b = await request(s.app).get(`/slides/${labelledSlide}/grid?level=31`);
    expect([b.status, b.body.code]).toEqual([422, 'LEVEL_OUT_OF_RANGE']);
  });
});
