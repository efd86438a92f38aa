import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  bestLevelForDownsample,
  deepZoomGeometry,
  dziXml,
  isStoredTile,
  parseTileName,
  tileOrigin,
  tileRead,
  type SlideLevelGeometry,
} from '../../src/tiles/deepzoom.js';

const REAL = resolve(process.cwd(), '../shared/fixtures/real');
/** boxes.tiff as OpenSlide reports it (level downsamples average both axes). */
const BOXES: SlideLevelGeometry[] = [
  { width: 300, height: 250, downsample: 1 },
  { width: 150, height: 125, downsample: 2 },
  { width: 75, height: 62, downsample: 4.016129032258064 },
  { width: 37, height: 31, downsample: 8.086312118570184 },
];

describe('deepZoomGeometry', () => {
  it('matches OpenSlide for boxes.tiff with its defaults (254, overlap 1)', () => {
    const g = deepZoomGeometry(BOXES, 254, 1);
    expect(g.levels.map((l) => [l.width, l.height])).toEqual([
      [1, 1],
      [2, 1],
      [3, 2],
      [5, 4],
      [10, 8],
      [19, 16],
      [38, 32],
      [75, 63],
      [150, 125],
      [300, 250],
    ]);
    expect(g.levels.map((l) => [l.cols, l.rows])).toEqual([
      [1, 1],
      [1, 1],
      [1, 1],
      [1, 1],
      [1, 1],
      [1, 1],
      [1, 1],
      [1, 1],
      [1, 1],
      [2, 1],
    ]);
    // DeepZoom level 7 (downsample 4) must read slide level 1: level 2's downsample 4.016 is above 4.
    expect(g.levels.map((l) => l.slideLevel)).toEqual([3, 3, 3, 3, 3, 3, 2, 1, 1, 0]);
  });

  it('gives the read_region arguments OpenSlide gives', () => {
    const g = deepZoomGeometry(BOXES, 254, 1);
    expect(tileRead(g, BOXES, 9, 1, 0)).toMatchObject({
      l0X: 253,
      l0Y: 0,
      slideLevel: 0,
      lWidth: 47,
      lHeight: 250,
      zWidth: 47,
      zHeight: 250,
    });
    expect(tileRead(g, BOXES, 8, 0, 0)).toMatchObject({
      l0X: 0,
      l0Y: 0,
      slideLevel: 1,
      lWidth: 150,
      lHeight: 125,
      zWidth: 150,
      zHeight: 125,
    });
    expect(tileRead(g, BOXES, 7, 0, 0)).toMatchObject({
      slideLevel: 1,
      lWidth: 150,
      lHeight: 125,
      zWidth: 75,
      zHeight: 63,
    });
    expect(tileRead(g, BOXES, 9, 2, 0)).toBeNull();
    expect(tileRead(g, BOXES, 10, 0, 0)).toBeNull();
    expect(tileRead(g, BOXES, -1, 0, 0)).toBeNull();
  });

  it('native geometry of a Camelyon16-like pyramid maps full-resolution tiles onto stored tiles', () => {
    const levels = [97792, 48896, 24448, 12224].map((w, i) => ({
      width: w,
      height: 221184 / 2 ** i,
      downsample: 2 ** i,
    }));
    const g = deepZoomGeometry(levels, 512, 0);
    expect(g.levels.length).toBe(19); // ceil(log2(221184)) + 1
    const top = g.levels.length - 1;
    expect(tileRead(g, levels, top, 3, 5)).toEqual({
      slideLevel: 0,
      l0X: 1536,
      l0Y: 2560,
      lX: 1536,
      lY: 2560,
      lWidth: 512,
      lHeight: 512,
      zWidth: 512,
      zHeight: 512,
    });
    expect(tileRead(g, levels, top - 2, 1, 1)).toMatchObject({
      slideLevel: 2,
      lX: 512,
      lY: 512,
      lWidth: 512,
      lHeight: 512,
    });
    // Beyond the stored pyramid, the coarsest level is shrunk.
    expect(g.levels[top - 5]!.slideLevel).toBe(3);
  });

  it('bestLevelForDownsample follows OpenSlide (strictly below the next level)', () => {
    const ds = [1, 2, 4.016, 8.08];
    expect([0.5, 1, 1.99, 2, 4, 4.016, 8, 9, 1000].map((d) => bestLevelForDownsample(ds, d))).toEqual([
      0, 0, 0, 1, 1, 2, 2, 3, 3,
    ]);
  });
});

describe('parseTileName and dziXml', () => {
  it('parses only col_row.format', () => {
    expect(parseTileName('12_7.jpeg')).toEqual({ col: 12, row: 7, format: 'jpeg' });
    for (const bad of [
      '12_7',
      '-1_2.png',
      '1_2.jpeg.png',
      '1e3_2.png',
      '1_2.PNG',
      '..%2f_1.png',
      '1_2.png\0',
      '1234567890_1.png',
      '',
    ])
      expect(parseTileName(bad)).toBeNull();
  });
  it('writes the DZI document', () => {
    const xml = dziXml(deepZoomGeometry(BOXES, 254, 1), 'jpeg');
    expect(xml).toContain('TileSize="254"');
    expect(xml).toContain('Overlap="1"');
    expect(xml).toContain('<Size Height="250" Width="300"/>');
  });
});

const python = '/usr/bin/python3';
const hasOpenSlide =
  existsSync(python) &&
  (() => {
    try {
      execFileSync(python, ['-c', 'import openslide.deepzoom'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();

describe.skipIf(!hasOpenSlide)('against OpenSlide DeepZoomGenerator itself (python3-openslide)', () => {
  const cases: Array<[string, number, number]> = [
    ['boxes.tiff', 254, 1],
    ['boxes.tiff', 64, 0],
    ['boxes.tiff', 30, 3],
    ['boxes.tiff', 7, 0],
    ['CMU-1-Small-Region.svs', 254, 1],
    ['CMU-1-Small-Region.svs', 240, 0],
    ['CMU-1-Small-Region.svs', 510, 1],
  ];
  it.each(cases)('%s tileSize %i overlap %i: every tile', (file, tileSize, overlap) => {
    const ref = JSON.parse(
      execFileSync(
        python,
        [resolve('test/support/openslide-ref.py'), resolve(REAL, file), String(tileSize), String(overlap)],
        { maxBuffer: 64 << 20 },
      ).toString(),
    ) as {
      levelDimensions: [number, number][];
      levelDownsamples: number[];
      levelCount: number;
      levelTiles: [number, number][];
      dzDimensions: [number, number][];
      tiles: number[][];
    };
    const levels = ref.levelDimensions.map(([width, height], i) => ({
      width,
      height,
      downsample: ref.levelDownsamples[i]!,
    }));
    const g = deepZoomGeometry(levels, tileSize, overlap);
    expect(g.levels.length).toBe(ref.levelCount);
    expect(g.levels.map((l) => [l.cols, l.rows])).toEqual(ref.levelTiles);
    expect(g.levels.map((l) => [l.width, l.height])).toEqual(ref.dzDimensions);
    for (const [dz, col, row, l0x, l0y, sl, lw, lh, zw, zh] of ref.tiles) {
      const t = tileRead(g, levels, dz!, col!, row!)!;
      expect(
        [t.l0X, t.l0Y, t.slideLevel, t.lWidth, t.lHeight, t.zWidth, t.zHeight],
        `level ${dz} tile ${col}_${row}`,
      ).toEqual([l0x, l0y, sl, lw, lh, zw, zh]);
    }
  });
});

describe('isStoredTile', () => {
  // A 1000 x 700 level 0 with 512 px stored tiles, and a level 1 of 500 x 350.
  const levels = [
    { width: 1000, height: 700, downsample: 1 },
    { width: 500, height: 350, downsample: 2 },
  ];
  const whole = { width: 512, height: 512 };
  const cases: Array<[string, number, number, number, number, number, { width: number; height: number }, boolean]> = [
    // name, tileSize, overlap, dz offset from the top, col, row, stored tile size, expected
    ['first tile of level 0, native geometry', 512, 0, 0, 0, 0, whole, true],
    ['right edge tile is partial (488 px wide)', 512, 0, 0, 1, 0, whole, false],
    ['bottom edge tile is partial (188 px high)', 512, 0, 0, 0, 1, whole, false],
    ['overlap 1: never the stored bytes', 512, 1, 0, 0, 0, whole, false],
    ['254 px tiles over 512 px stored tiles', 254, 0, 0, 0, 0, whole, false],
    ['stored tiles of another size', 512, 0, 0, 0, 0, { width: 256, height: 256 }, false],
    ['non-square stored tiles', 512, 0, 0, 0, 0, { width: 512, height: 256 }, false],
    [
      'one level down is read from level 1 at native resolution, but the tile is partial',
      512,
      0,
      1,
      0,
      0,
      whole,
      false,
    ],
  ];
  for (const [name, tileSize, overlap, down, col, row, stored, expected] of cases) {
    it(name, () => {
      const g = deepZoomGeometry(levels, tileSize, overlap);
      const dz = g.levels.length - 1 - down;
      const read = tileRead(g, levels, dz, col, row)!;
      expect(isStoredTile(g, dz, read, stored)).toBe(expected);
    });
  }

  it('a DeepZoom level between stored levels (resampled) is never a stored tile', () => {
    const three = [
      { width: 4096, height: 4096, downsample: 1 },
      { width: 1024, height: 1024, downsample: 4 },
    ];
    const g = deepZoomGeometry(three, 512, 0);
    const dz = g.levels.length - 2; // downsample 2: read from level 0, 2 level pixels per tile pixel
    const read = tileRead(g, three, dz, 0, 0)!;
    expect(g.levels[dz]!.lPerZ).toBe(2);
    expect(isStoredTile(g, dz, read, { width: 512, height: 512 })).toBe(false);
    const top = g.levels.length - 1;
    expect(isStoredTile(g, top, tileRead(g, three, top, 7, 7)!, { width: 512, height: 512 })).toBe(true);
  });
});

describe('tileOrigin', () => {
  const levels = [{ width: 1000, height: 700, downsample: 1 }];
  const g = deepZoomGeometry(levels, 254, 1);
  const top = g.levels.length - 1;
  const cases: Array<[number, number, number, { l0X: number; l0Y: number; l0PerZ: number }]> = [
    [top, 0, 0, { l0X: 0, l0Y: 0, l0PerZ: 1 }],
    [top, 1, 0, { l0X: 253, l0Y: 0, l0PerZ: 1 }], // 254 - overlap
    [top, 3, 2, { l0X: 761, l0Y: 507, l0PerZ: 1 }],
    [top - 1, 1, 1, { l0X: 506, l0Y: 506, l0PerZ: 2 }],
    [top - 3, 0, 0, { l0X: 0, l0Y: 0, l0PerZ: 8 }],
  ];
  for (const [dz, col, row, expected] of cases) {
    it(`level ${dz} tile ${col}_${row}`, () => expect(tileOrigin(g, dz, col, row)).toEqual(expected));
  }

  it('agrees with tileRead wherever the tile reads level 0 at full resolution', () => {
    for (let col = 0; col < g.levels[top]!.cols; col++) {
      for (let row = 0; row < g.levels[top]!.rows; row++) {
        const o = tileOrigin(g, top, col, row);
        const r = tileRead(g, levels, top, col, row)!;
        expect([o.l0X, o.l0Y]).toEqual([r.l0X, r.l0Y]);
      }
    }
  });
});
