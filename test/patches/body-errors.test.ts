/**
 * Validation messages of /samples and /batches bodies: every message names the field by its
 * path, and a misspelt field or enum value gets the closest valid name.
 */
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { bodyErrorMessages, closestName, editDistance, fieldPath } from '../../src/patches/body-errors.js';
import { checkSampleBody } from '../../src/patches/spec.js';

const detail = (body: unknown): string => {
  try {
    checkSampleBody(body);
  } catch (e) {
    if (e instanceof AppError && e.status === 400 && e.code === 'VALIDATION_FAILED') return e.detail;
    throw e;
  }
  throw new Error(`accepted: ${JSON.stringify(body)}`);
};

describe('closestName', () => {
  const fields = [
    'classes',
    'weights',
    'balance',
    'criterion',
    'minFraction',
    'slides',
    'region',
    'size',
    'level',
    'mpp',
    'count',
    'seed',
  ];
  it.each([
    ['minfraction', 'minFraction'], // another case first
    ['MINFRACTION', 'minFraction'],
    ['minFracton', 'minFraction'],
    ['class', 'classes'],
    ['wieghts', 'weights'],
    ['seeds', 'seed'],
    ['mmp', 'mpp'],
    ['levle', 'level'],
    ['tile', null], // nothing close: no guess
    ['bogus', null],
    ['x', null],
  ])('%s -> %s', (given, expected) => {
    expect(closestName(given, fields)).toBe(expected);
  });
});

describe('editDistance and fieldPath', () => {
  it.each([
    ['', '', 0],
    ['abc', 'abc', 0],
    ['abc', 'abd', 1],
    ['abc', 'ab', 1],
    ['kitten', 'sitting', 3],
    ['levle', 'level', 1], // a transposition is one edit
  ])('%s / %s: %i', (a, b, d) => {
    expect(editDistance(a, b)).toBe(d);
    expect(editDistance(b, a)).toBe(d);
  });
  it.each([
    ['', 'body'],
    ['/minFraction', 'body.minFraction'],
    ['/region/rect/x', 'body.region.rect.x'],
    ['/classes/2', 'body.classes[2]'],
    ['/a~1b/c~0d', 'body["a/b"]["c~d"]'],
  ])('%s -> %s', (pointer, path) => {
    expect(fieldPath(pointer)).toBe(path);
  });
});

describe('checkSampleBody messages', () => {
  it.each([
    [{ classes: ['adipose'], minfraction: 0.5 }, 'body.minfraction is not a field here (did you mean "minFraction"?)'],
    [
      { classes: ['adipose'], region: { rect: { x: 0, y: 0, width: 8, height: 8 }, whitin: ['labelled'] } },
      'body.region.whitin is not a field here (did you mean "within"?)',
    ],
    [
      { classes: ['adipose'], exclude: { category: ['artefact'] } },
      'body.exclude.category is not a field here (did you mean "categories"?)',
    ],
    [{ classes: ['adipose'], region: { rect: { x: 0, y: 0, width: 8 } } }, 'body.region.rect.height is required'],
    [{ classes: ['adipose'], size: 4 }, 'body.size must be >= 8'],
    [
      { classes: ['adipose'], format: 'JPEG' },
      'body.format must be one of jpeg, png, webp, raw, npy (did you mean "jpeg"?)',
    ],
    [
      { classes: ['adipose'], balance: 'class' },
      'body.balance must be one of classes, slides, classes-per-slide (did you mean "classes"?)',
    ],
    [{ classes: ['adipose', {}] }, 'body.classes[1] must be a string or an integer'],
    [{}, 'body.classes is required'],
  ])('%j', (body, message) => {
    expect(detail(body)).toBe(message);
  });

  it('lists the fields when nothing is close to the unknown one', () => {
    const d = detail({ classes: ['adipose'], tile: 3 });
    expect(d).toMatch(/^body\.tile is not a field here; the fields are classes, weights, balance, /);
    expect(d).toContain('minFraction');
  });

  it('names every bad field of one body, each once', () => {
    const d = detail({ classes: [], minfraction: 2, seed: -1 });
    expect(d.split('; ').sort()).toEqual([
      'body.classes must NOT have fewer than 1 items',
      'body.minfraction is not a field here (did you mean "minFraction"?)',
      'body.seed must be >= 0',
    ]);
  });
});

describe('bodyErrorMessages on a body of many unknown fields', () => {
  it('lists the first 10, after work bounded by that, not by the number of errors', () => {
    const parentSchema = { properties: Object.fromEntries(Array.from({ length: 5_000 }, (_, j) => [`field${j}`, {}])) };
    const many = Array.from({ length: 100_000 }, (_, k) => ({
      keyword: 'additionalProperties',
      instancePath: '',
      schemaPath: '#/additionalProperties',
      params: { additionalProperty: `k${k}` },
      parentSchema,
    }));
    // Each message costs a scan of the 5,000 field names: 100,000 of them would be 5e8 distance computations.
    const out = bodyErrorMessages(many);
    expect(out).toHaveLength(10);
    expect(out[0]).toMatch(/^body\.k0 is not a field here/);
  });
});
