/**
 * The pixel budget of a slide, checked on its structure before any pixel is decoded: level 0 at
 * most MAX_SLIDE_PIXELS, a pyramid down to a level small enough to decode whole, tiles at most
 * MAX_TILE_SIDE a side. Pure table, then through a real ingest of crafted files.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MAX_SLIDE_PIXELS, loadConfig } from '../../src/config.js';
import { ingest } from '../../src/indexer/ingest.js';
import {
  MAX_SMALLEST_LEVEL_PIXELS,
  checkPixelBudget,
  slideStructure,
  type SlideStructure,
} from '../../src/slides/structure.js';
import { parseTiff } from '../../src/slides/tiff.js';
import { appErrorOf, makeTempDir, removeTempDir } from '../support/core-fixtures.js';
import { buildTiff, tiledLevel, type Entry } from '../support/core-tiff.js';

let dir: string;
beforeAll(() => {
  dir = makeTempDir('pixel-budget');
});
afterAll(() => removeTempDir(dir));

function structureOf(ifds: Entry[][]): SlideStructure {
  const b = buildTiff(ifds);
  return slideStructure(parseTiff((o, n) => b.subarray(o, o + n), b.length));
}

/** A structure with the given level sizes (no file needed: the check is pure). */
function pyramid(...sizes: Array<[number, number]>): SlideStructure {
  const levels = sizes.map(([width, height], ifd) => ({
    ifd,
    width,
    height,
    downsample: sizes[0]![0] / width,
    tileWidth: 512,
    tileHeight: 512,
  }));
  return {
    format: 'generic-tiff',
    bigTiff: true,
    width: sizes[0]![0],
    height: sizes[0]![1],
    levels,
    mppX: null,
    mppY: null,
    compression: { code: 7, name: 'JPEG', support: 'always' },
    photometric: 'ycbcr',
    description: null,
  };
}

const codeOf = async (fn: () => unknown) => {
  try {
    await fn();
    return 'ok';
  } catch (e) {
    return (await appErrorOf(() => Promise.reject(e))).code;
  }
};

describe('checkPixelBudget (pure)', () => {
  const camelyon = pyramid([97_792, 221_184], [48_896, 110_592], [1528, 3456], [382, 864]);
  const cases: Array<[string, SlideStructure, number, string]> = [
    ['Camelyon16 level 0 (21.6 Gpx) with its pyramid, default budget', camelyon, DEFAULT_MAX_SLIDE_PIXELS, 'ok'],
    ['the same slide under a budget of 20 Gpx', camelyon, 20e9, 'SLIDE_TOO_LARGE'],
    ['exactly at the budget', pyramid([1000, 1000], [250, 250]), 1e6, 'ok'],
    ['one pixel over it', pyramid([1001, 1000], [250, 250]), 1e6, 'SLIDE_TOO_LARGE'],
    [
      'a single-level 200k x 200k slide (40 Gpx: within the budget, no pyramid)',
      pyramid([200_000, 200_000]),
      DEFAULT_MAX_SLIDE_PIXELS,
      'SLIDE_NO_PYRAMID',
    ],
    [
      'Aperio with only 1x and 4x levels (smallest 0.5 Gpx)',
      pyramid([100_000, 80_000], [25_000, 20_000]),
      DEFAULT_MAX_SLIDE_PIXELS,
      'ok',
    ],
    [
      'smallest level one row over the cap',
      pyramid([2 ** 16, 2 ** 14 + 1]),
      DEFAULT_MAX_SLIDE_PIXELS,
      'SLIDE_NO_PYRAMID',
    ],
    ['smallest level at the cap', pyramid([2 ** 16, 2 ** 14]), DEFAULT_MAX_SLIDE_PIXELS, 'ok'],
  ];
  for (const [what, s, budget, code] of cases) {
    it(`${what} -> ${code}`, async () => expect(await codeOf(() => checkPixelBudget(s, budget))).toBe(code));
  }
  it('the smallest-level cap is 2^30 px', () => expect(MAX_SMALLEST_LEVEL_PIXELS).toBe(2 ** 30));
});

describe('tile size cap at the structure', () => {
  it('16,384 px tiles (the 6.4 GB tile came in such a TIFF) are refused: TIFF_TILE_TOO_LARGE; 4,096 px tiles pass', async () => {
    expect(await codeOf(() => structureOf([tiledLevel(32_768, 32_768, 16_384)]))).toBe('TIFF_TILE_TOO_LARGE');
    expect(await codeOf(() => structureOf([tiledLevel(8192, 8192, 4096), tiledLevel(4096, 4096, 4096)]))).toBe('ok');
  });
});

describe('MAX_SLIDE_PIXELS', () => {
  it('is read from the environment, with the default for Camelyon16, and a bad value names the variable', () => {
    expect(loadConfig({}).maxSlidePixels).toBe(DEFAULT_MAX_SLIDE_PIXELS);
    expect(loadConfig({ MAX_SLIDE_PIXELS: '1000000' }).maxSlidePixels).toBe(1e6);
    for (const bad of ['0', '-5', '1.5', 'lots', String(2 ** 51)])
      expect(() => loadConfig({ MAX_SLIDE_PIXELS: bad })).toThrow(/MAX_SLIDE_PIXELS/);
  });
});

describe('ingest refuses over-budget slides from their structure, before decoding a pixel', () => {
  it('a 1.2 MB single-level 200k x 200k slide (was 160 s and 1.5 GB): SLIDE_NO_PYRAMID; a small one over MAX_SLIDE_PIXELS: SLIDE_TOO_LARGE', async () => {
    const slidesIn = (name: string, files: Record<string, Buffer>) => {
      const data = join(dir, name);
      mkdirSync(join(data, 'slides'), { recursive: true });
      for (const [file, bytes] of Object.entries(files)) writeFileSync(join(data, 'slides', file), bytes);
      return data;
    };
    const flat = buildTiff([tiledLevel(200_000, 200_000, 512)]);
    expect(flat.length).toBeLessThan(1.3e6);
    const one = await ingest({
      dataDir: slidesIn('flat', { 'flat_001.tif': flat }),
      indexPath: join(dir, 'flat.sqlite'),
    });
    expect(one.problems.map((p) => [p.slideId, p.code])).toEqual([['flat_001', 'SLIDE_NO_PYRAMID']]);
    const wide = buildTiff([tiledLevel(4096, 2048, 512), tiledLevel(1024, 512, 512)]);
    const two = await ingest({
      dataDir: slidesIn('wide', { 'wide_001.tif': wide }),
      indexPath: join(dir, 'wide.sqlite'),
      maxSlidePixels: 4096 * 2048 - 1,
    });
    expect(two.problems.map((p) => [p.slideId, p.code])).toEqual([['wide_001', 'SLIDE_TOO_LARGE']]);
  });
});
