import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LABEL_DOWNSAMPLE, loadManifest, parseManifest } from '../../src/dataset/manifest.js';
import { appErrorOf, makeTempDir, removeTempDir } from '../support/core-fixtures.js';
import { CLASS_NAMES } from '../support/fuzz-arbitraries.js';

let dir: string;
beforeAll(() => {
  dir = makeTempDir('manifest');
});
afterAll(() => removeTempDir(dir));

const CAMELYON = {
  name: 'camelyon16-context',
  version: '2025.1',
  description: 'context regions',
  slides: { dir: 'images', extensions: ['.TIF', '.svs'] },
  taxonomy: [
    { value: 1, name: 'Metastasis', category: 'diagnostic', color: '#d62728' },
    { value: 3, name: 'adipose', category: 'background', color: '#F2C12E', description: 'fat' },
  ],
  labelDownsample: 8,
  labelSources: [
    { id: 'context', format: 'label-mask', dir: 'masks', suffix: '_mask', downsample: 32 },
    { id: 'lesions', format: 'asap-xml', dir: 'lesions', classMap: { _0: 'metastasis', _2: null } },
  ],
};

describe('parseManifest', () => {
  it('normalises a full manifest: sources in order, defaults filled, value 0 added', () => {
    const m = parseManifest(CAMELYON);
    expect(m).toMatchObject({
      name: 'camelyon16-context',
      version: '2025.1',
      slidesDir: 'images',
      extensions: ['.tif', '.svs'],
      labelDownsample: 8,
    });
    expect(m.taxonomy.map((c) => [c.value, c.name, c.category])).toEqual([
      [0, 'unlabelled', null],
      [1, 'Metastasis', 'diagnostic'],
      [3, 'adipose', 'background'],
    ]);
    expect(m.labelSources).toEqual([
      {
        id: 'context',
        format: 'label-mask',
        dir: 'masks',
        suffix: '_mask',
        downsample: 32,
        classMap: {},
        palette: null,
        tolerance: 0,
      },
      {
        id: 'lesions',
        format: 'asap-xml',
        dir: 'lesions',
        suffix: '',
        downsample: null,
        classMap: { _0: 'metastasis', _2: null },
        palette: null,
        tolerance: 0,
      },
    ]);
  });

  it('an empty manifest gets the default taxonomy, downsample and no sources', () => {
    const m = parseManifest({});
    expect(m.taxonomy.map((c) => c.name)).toEqual(CLASS_NAMES);
    expect([m.labelDownsample, m.slidesDir, m.extensions, m.labelSources]).toEqual([
      DEFAULT_LABEL_DOWNSAMPLE,
      'slides',
      ['.tif', '.tiff', '.svs'],
      [],
    ]);
  });

  it('the hash depends on content, not on key order', () => {
    const reordered = Object.fromEntries(Object.entries(CAMELYON).reverse());
    expect(parseManifest(reordered).hash).toBe(parseManifest(CAMELYON).hash);
    expect(parseManifest({ ...CAMELYON, labelDownsample: 4 }).hash).not.toBe(parseManifest(CAMELYON).hash);
    const swapped = { ...CAMELYON, labelSources: [...CAMELYON.labelSources].reverse() };
    expect(parseManifest(swapped).hash).not.toBe(parseManifest(CAMELYON).hash); // painting order matters
  });

  const invalid: Array<[string, unknown, RegExp]> = [
    ['an unknown property', { ...CAMELYON, colour: 'red' }, /additional properties/],
    [
      'a mask without downsample',
      { labelSources: [{ id: 'm', format: 'label-mask', dir: 'm' }] },
      /needs "downsample"/,
    ],
    ['an unknown format', { labelSources: [{ id: 'm', format: 'png', dir: 'm' }] }, /format/],
    [
      'two sources with one id',
      {
        labelSources: [
          { id: 'a', format: 'geojson', dir: 'x' },
          { id: 'a', format: 'geojson', dir: 'y' },
        ],
      },
      /"a" is declared twice/,
    ],
    [
      'a classMap naming an unknown class',
      { labelSources: [{ id: 'a', format: 'geojson', dir: 'x', classMap: { Tumor: 'cancer' } }] },
      /names class "cancer"/,
    ],
    [
      'a palette key that is not a colour',
      { labelSources: [{ id: 'a', format: 'color-mask', dir: 'x', downsample: 4, palette: { red: 'fold' } }] },
      /palette key "red"/,
    ],
    [
      'a palette naming an unknown class',
      { labelSources: [{ id: 'a', format: 'color-mask', dir: 'x', downsample: 4, palette: { '#ff0000': 'cancer' } }] },
      /names class "cancer"/,
    ],
    [
      'a value declared twice',
      {
        taxonomy: [
          { value: 1, name: 'a', color: '#000001' },
          { value: 1, name: 'b', color: '#000002' },
        ],
      },
      /value 1 is declared twice/,
    ],
    [
      'a name declared twice, in any case',
      {
        taxonomy: [
          { value: 1, name: 'Fold', color: '#000001' },
          { value: 2, name: 'fold', color: '#000002' },
        ],
      },
      /"fold" is declared twice/,
    ],
    [
      'value 0 with a category',
      { taxonomy: [{ value: 0, name: 'glass', category: 'background', color: '#000000' }] },
      /cannot have a category/,
    ],
    [
      'a class named like a built-in tissue selector',
      { taxonomy: [{ value: 1, name: 'Tissue', color: '#000001' }] },
      /"Tissue": "tissue" and "unlabelled-tissue" are built-in selectors/,
    ],
    [
      'a category named like a built-in tissue selector',
      { taxonomy: [{ value: 1, name: 'a', category: 'unlabelled-tissue', color: '#000001' }] },
      /\(category "unlabelled-tissue"\): "tissue" and "unlabelled-tissue" are built-in selectors/,
    ],
    ['a value above 255', { taxonomy: [{ value: 256, name: 'a', color: '#000001' }] }, /value must be <= 255/],
    ['a colour that is not #rrggbb', { taxonomy: [{ value: 1, name: 'a', color: 'red' }] }, /pattern/],
    ['an extension without its dot', { slides: { extensions: ['tif'] } }, /pattern/],
    ['a label downsample below 1', { labelDownsample: 0.5 }, /labelDownsample must be >= 1/],
    ['not an object', [1, 2], /must be object/],
    [
      'a tolerance on a label mask',
      { labelSources: [{ id: 'a', format: 'label-mask', dir: 'x', downsample: 4, tolerance: 8 }] },
      /"tolerance" applies to colour masks only/,
    ],
    [
      'a tolerance that is not a whole number',
      { labelSources: [{ id: 'a', format: 'color-mask', dir: 'x', downsample: 4, tolerance: 2.5 }] },
      /tolerance must be integer/,
    ],
    [
      'a tolerance above 127',
      { labelSources: [{ id: 'a', format: 'color-mask', dir: 'x', downsample: 4, tolerance: 128 }] },
      /tolerance must be <= 127/,
    ],
    // The default taxonomy's closest colours, #f2c12e and #ff7f0e, are 66 apart on green.
    [
      'a tolerance reaching two taxonomy colours',
      { labelSources: [{ id: 'a', format: 'color-mask', dir: 'x', downsample: 4, tolerance: 33 }] },
      /only 66 apart, so it must be below 33/,
    ],
    [
      'a tolerance reaching black from a palette colour',
      {
        labelSources: [
          { id: 'a', format: 'color-mask', dir: 'x', downsample: 4, palette: { '#100000': 'fold' }, tolerance: 8 },
        ],
      },
      /only 16 apart, so it must be below 8/,
    ],
  ];
  it('accepts the largest tolerance that keeps palette colours apart, and hashes it', () => {
    const src = (tolerance?: number) => ({
      labelSources: [
        { id: 'a', format: 'color-mask', dir: 'x', downsample: 4, ...(tolerance === undefined ? {} : { tolerance }) },
      ],
    });
    expect(parseManifest(src(32)).labelSources[0]!.tolerance).toBe(32);
    expect(parseManifest(src()).labelSources[0]!.tolerance).toBe(0);
    expect(parseManifest(src(32)).hash).not.toBe(parseManifest(src()).hash);
  });
  for (const [what, raw, why] of invalid) {
    it(`refuses ${what}`, async () => {
      const e = await appErrorOf(() => parseManifest(raw));
      expect([e.code, e.status]).toEqual(['MANIFEST_INVALID', 422]);
      expect(e.detail).toMatch(why);
    });
  }
});

describe('loadManifest', () => {
  it('without manifest.json: the defaults, slides from slides/ when it exists', () => {
    const bare = join(dir, 'bare');
    mkdirSync(bare);
    expect(loadManifest(bare).slidesDir).toBe('.');
    mkdirSync(join(bare, 'slides'));
    expect(loadManifest(bare)).toMatchObject({ name: 'unnamed-dataset', slidesDir: 'slides', labelSources: [] });
  });

  it('reads manifest.json', () => {
    const d = join(dir, 'full');
    mkdirSync(d);
    writeFileSync(join(d, 'manifest.json'), JSON.stringify(CAMELYON));
    expect(loadManifest(d).hash).toBe(parseManifest(CAMELYON).hash);
  });

  it('refuses a manifest.json that is not JSON', async () => {
    const d = join(dir, 'broken');
    mkdirSync(d);
    writeFileSync(join(d, 'manifest.json'), '{"name": "x",');
    expect((await appErrorOf(() => loadManifest(d))).code).toBe('MANIFEST_MALFORMED');
  });
});
