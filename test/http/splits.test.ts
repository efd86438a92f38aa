/**
 * Splits through HTTP on the core dataset: stored, listed, deterministic across indexes of the
 * same data, disjoint and complete parts, folds and attribute groups, used by /samples, and
 * refused once the dataset version changes.
 */
import { readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest } from '../../src/indexer/ingest.js';
import { serveCore, serveIndex, type Served } from '../support/app-fixture.js';

type Part = {
  ratio?: number;
  slides: string[];
  groups: string[];
  classes: Record<string, number>;
  shares: Record<string, number>;
};
type Split = {
  name: string;
  datasetVersion: string;
  parts: Record<string, Part>;
  withinTolerance: boolean | null;
  folds?: number;
};

let s: Served;
let slides: string[];
/** centre per slide: three "centres" dealt by id order, and an authors' split. */
let centre: Record<string, string>;

beforeAll(async () => {
  s = await serveCore();
  const list = await request(s.app).get('/slides?status=ok&limit=1000');
  slides = (list.body.items as Array<{ id: string }>).map((x) => x.id).sort();
  centre = Object.fromEntries(slides.map((id, i) => [id, ['radboud', 'utrecht', 'nijmegen'][i % 3]!]));
  // Attributes are outside the manifest's hash: adding them needs no re-ingest.
  const path = join(s.dataDir, 'manifest.json');
  const m = JSON.parse(readFileSync(path, 'utf8')) as object;
  const attrs = Object.fromEntries(
    slides.map((id, i) => [id, { centre: centre[id]!, split: i % 4 === 0 ? 'test' : 'train' }]),
  );
  writeFileSync(path, JSON.stringify({ ...m, slideAttributes: attrs }));
}, 120_000);
afterAll(() => s.cleanup());

const post = (body: object) => request(s.app).post('/splits').send(body);
const sampleItems = async (body: object) => {
  const res = await request(s.app).post('/samples').send(body);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.items as Array<{ slideId: string; index: number }>;
};
/** A fold holding labelled area, and one of its classes (some real fixture slides have no labels). */
const labelledFold = (split: Split): [number, string] => {
  const k = Object.values(split.parts).findIndex((p) => Object.keys(p.classes).length > 0);
  return [k, Object.keys(split.parts[`fold${k}`]!.classes)[0]!];
};
const allSlidesOnce = (split: Split) => {
  const seen = Object.values(split.parts).flatMap((p) => p.slides);
  expect(seen.sort()).toEqual(slides);
};

describe('POST /splits, GET /splits', () => {
  it('stores a stratified train/val/test split with every slide in exactly one part', async () => {
    const res = await post({
      name: 'tvt',
      seed: 5,
      ratios: { train: 0.6, val: 0.2, test: 0.2 },
      stratify: ['metastasis', 'background'],
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const split = res.body as Split;
    expect(Object.keys(split.parts)).toEqual(['train', 'val', 'test']);
    allSlidesOnce(split);
    expect(split.parts.train!.ratio).toBe(0.6);
    // The reported shares are each part's fraction of the stratified area: they sum to 1.
    for (const stratum of ['metastasis', 'background']) {
      const sum = Object.values(split.parts).reduce((a, p) => a + p.shares[stratum]!, 0);
      expect(sum).toBeCloseTo(1, 9);
    }
    expect(typeof split.withinTolerance).toBe('boolean');
    // The answer is what openapi.yaml says a Split is.
    const ajv = new Ajv({ strict: false, allErrors: true });
    ajv.addSchema({
      $id: 'openapi',
      components: (parseYaml(readFileSync('openapi.yaml', 'utf8')) as { components: object }).components,
    });
    for (const schema of ['Split', 'SplitList']) {
      const validate = ajv.compile({ $ref: `openapi#/components/schemas/${schema}` });
      const body = schema === 'Split' ? split : (await request(s.app).get('/splits')).body;
      expect(validate(body), JSON.stringify(validate.errors)).toBe(true);
    }
    expect((await request(s.app).get('/splits/tvt')).body).toEqual(split);
    expect((await request(s.app).get('/splits')).body.items.map((x: Split) => x.name)).toContain('tvt');
    // The same request again is the same split; another one under the name is refused.
    const again = await post({
      name: 'tvt',
      seed: 5,
      ratios: { train: 0.6, val: 0.2, test: 0.2 },
      stratify: ['metastasis', 'background'],
    });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(split);
    const other = await post({ name: 'tvt', seed: 6, ratios: { train: 0.6, val: 0.2, test: 0.2 } });
    expect(other.status).toBe(409);
    expect(other.body.code).toBe('SPLIT_EXISTS');
  });

  it('is deterministic: an index built again from the same data gives the same parts', async () => {
    const second = await serveIndex(s.dataDir, join(s.dir, 'index2', 'index.sqlite'));
    const report = await ingest({ dataDir: s.dataDir, indexPath: join(s.dir, 'index2', 'index.sqlite') });
    expect(report.datasetVersion).toBe(s.report.datasetVersion);
    const body = { name: 'det', seed: 11, folds: 3, stratify: ['metastasis'] };
    const a = (await post(body)).body as Split;
    const b = (await request(second.app).post('/splits').send(body)).body as Split;
    expect(b.parts).toEqual(a.parts);
    expect(b.datasetVersion).toBe(a.datasetVersion);
  }, 120_000);

  it('k folds: disjoint, complete, and /samples draws only from fold k or from every other fold', async () => {
    const res = await post({ name: 'cv', folds: 3, seed: 1 });
    expect(res.status).toBe(201);
    const split = res.body as Split;
    expect(Object.keys(split.parts)).toEqual(['fold0', 'fold1', 'fold2']);
    allSlidesOnce(split);
    const [k, cls] = labelledFold(split);
    const fold = new Set(split.parts[`fold${k}`]!.slides);
    const inFold = await sampleItems({
      classes: [cls],
      minFraction: 0,
      size: 32,
      count: 20,
      split: { name: 'cv', fold: k },
    });
    expect(inFold.every((i) => fold.has(i.slideId))).toBe(true);
    const other = Object.values(split.parts).findIndex((p, j) => j !== k && Object.keys(p.classes).length > 0);
    const otherCls = Object.keys(split.parts[`fold${other}`]!.classes)[0]!;
    const notFold = await sampleItems({
      classes: [otherCls],
      minFraction: 0,
      size: 32,
      count: 20,
      split: { name: 'cv', notFold: k },
    });
    expect(notFold.every((i) => !fold.has(i.slideId))).toBe(true);
    const samePart = await sampleItems({
      classes: [cls],
      minFraction: 0,
      size: 32,
      count: 20,
      split: { name: 'cv', part: `fold${k}` },
    });
    expect(samePart).toEqual(inFold);
  });

  it("groupBy an attribute keeps each centre in one part; adopt takes the authors' split", async () => {
    const byCentre = (await post({ name: 'centres', folds: 3, groupBy: 'centre' })).body as Split;
    allSlidesOnce(byCentre);
    for (const p of Object.values(byCentre.parts)) {
      expect(p.groups).toHaveLength(1);
      expect(p.slides.every((id) => centre[id] === p.groups[0])).toBe(true);
    }
    const adopted = (await post({ name: 'authors', adopt: 'split' })).body as Split;
    expect(Object.keys(adopted.parts).sort()).toEqual(['test', 'train']);
    expect(adopted.parts.test!.slides).toEqual(slides.filter((_, i) => i % 4 === 0));
    expect(adopted.withinTolerance).toBeNull();
  });
});

describe('bad input', () => {
  it.each([
    [{ name: 'x', ratios: { train: 0.5, val: 0.2, test: 0.2 } }, 400, 'RATIOS_NOT_ONE'],
    [{ name: 'x', folds: 1 }, 400, 'VALIDATION_FAILED'],
    [{ name: 'x', folds: 1000 }, 422, 'TOO_MANY_FOLDS'],
    [{ name: 'x', folds: 2, ratios: { train: 0.5, val: 0.25, test: 0.25 } }, 400, 'VALIDATION_FAILED'],
    [{ name: 'x' }, 400, 'VALIDATION_FAILED'],
    [{ name: 'x', folds: 2, groupBy: 'scanner' }, 422, 'ATTRIBUTE_MISSING'],
    [{ name: 'x', folds: 2, stratify: ['nope'] }, 400, 'UNKNOWN_CLASS'],
    [{ name: '../x', folds: 2 }, 400, 'VALIDATION_FAILED'],
  ])('POST /splits %j -> %i %s', async (body, status, code) => {
    const res = await post(body);
    expect(res.status).toBe(status);
    expect(res.body.code).toBe(code);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
  });

  it('unknown split or part, a fold of a non-fold split, a slide outside the part, start beyond the shard', async () => {
    await post({ name: 'plain', ratios: { train: 0.5, val: 0.25, test: 0.25 } });
    const tvt = (await request(s.app).get('/splits/plain')).body as Split;
    const base = { classes: ['metastasis'], count: 4, size: 32 };
    const cases: Array<[object, number, string]> = [
      [{ ...base, split: { name: 'nope', part: 'train' } }, 404, 'SPLIT_NOT_FOUND'],
      [{ ...base, split: { name: 'plain', part: 'holdout' } }, 422, 'UNKNOWN_PART'],
      [{ ...base, split: { name: 'plain', fold: 0 } }, 422, 'NOT_FOLDS'],
      [{ ...base, split: { name: 'cv', fold: 3 } }, 422, 'UNKNOWN_PART'],
      [{ ...base, split: { name: 'plain', part: 'train', fold: 1 } }, 400, 'VALIDATION_FAILED'],
      [
        { ...base, split: { name: 'plain', part: 'train' }, slides: [tvt.parts.test!.slides[0]] },
        422,
        'SLIDE_NOT_IN_SPLIT',
      ],
      [{ ...base, start: 5 }, 422, 'START_BEYOND_SHARD'],
    ];
    for (const [body, status, code] of cases) {
      const res = await request(s.app).post('/samples').send(body);
      expect([res.status, res.body.code], JSON.stringify(body)).toEqual([status, code]);
    }
    expect((await request(s.app).get('/splits/nope')).status).toBe(404);
    expect((await request(s.app).delete('/splits/plain')).status).toBe(204);
    expect((await request(s.app).get('/splits/plain')).status).toBe(404);
  });

  it('a re-ingest that changed nothing keeps splits usable; one that changed the dataset makes them 409 naming both versions', async () => {
    const before = s.generation().datasetVersion;
    const same = await ingest({ dataDir: s.dataDir, indexPath: s.indexPath });
    expect(same.datasetVersion).toBe(before);
    const [k, cls] = labelledFold((await request(s.app).get('/splits/cv')).body as Split);
    await sampleItems({ classes: [cls], minFraction: 0, size: 32, count: 4, split: { name: 'cv', fold: k } });
    const slideFile = join(s.dataDir, 'slides', readdirSync(join(s.dataDir, 'slides'))[0]!);
    utimesSync(slideFile, new Date(), new Date(Date.now() + 60_000));
    const changed = await ingest({ dataDir: s.dataDir, indexPath: s.indexPath });
    expect(changed.datasetVersion).not.toBe(before);
    // The service looks for a new index file at most once a second (src/db/handle.ts).
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const res = await request(s.app)
      .post('/samples')
      .send({ classes: [cls], minFraction: 0, size: 32, count: 4, split: { name: 'cv', fold: k } });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe('SPLIT_VERSION_MISMATCH');
    expect(res.body.detail).toContain(before);
    expect(res.body.detail).toContain(changed.datasetVersion);
    // The split itself is still there (and still says its version); it survived the ingest.
    expect((await request(s.app).get('/splits/cv')).body.datasetVersion).toBe(before);
  }, 120_000);
});
