import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bestLevelForDownsample, deepZoomGeometry, dziXml, parseTileName, tileRead, type SlideLevelGeometry } from '../../src/tiles/deepzoom.js';

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
    expect(g.levels.map((l) => [l.width, l.height])).toEqual([[1, 1], [2, 1], [3, 2], [5, 4], [10, 8], [19, 16], [38, 32], [75, 63], [150, 125], [300, 250]]);
    expect(g.levels.map((l) => [l.cols, l.rows])).toEqual([[1, 1], [1, 1], [1, 1], [1, 1], [1, 1], [1, 1], [1, 1], [1, 1], [1, 1], [2, 1]]);
    // DeepZoom level 7 (downsample 4) must read slide level 1: level 2's downsample 4.016 is above 4.
    expect(g.levels.map((l) => l.slideLevel)).toEqual([3, 3, 3, 3, 3, 3, 2, 1, 1, 0]);
  });

  it('gives the read_region arguments OpenSlide gives', () => {
    const g = deepZoomGeometry(BOXES, 254, 1);
    expect(tileRead(g, BOXES, 9, 1, 0)).toMatchObject({ l0X: 253, l0Y: 0, slideLevel: 0, lWidth: 47, lHeight: 250, zWidth: 47, zHeight: 250 });
    expect(tileRead(g, BOXES, 8, 0, 0)).toMatchObject({ l0X: 0, l0Y: 0, slideLevel: 1, lWidth: 150, lHeight: 125, zWidth: 150, zHeight: 125 });
    expect(tileRead(g, BOXES, 7, 0, 0)).toMatchObject({ slideLevel: 1, lWidth: 150, lHeight: 125, zWidth: 75, zHeight: 63 });
    expect(tileRead(g, BOXES, 9, 2, 0)).toBeNull();
    expect(tileRead(g, BOXES, 10, 0, 0)).toBeNull();
    expect(tileRead(g, BOXES, -1, 0, 0)).toBeNull();
  });

  it('native geometry of a Camelyon16-like pyramid maps full-resolution tiles onto stored tiles', () => {
    const levels = [97792, 48896, 24448, 12224].map((w, i) => ({ width: w, height: 221184 / 2 ** i, downsample: 2 ** i }));
    const g = deepZoomGeometry(levels, 512, 0);
    expect(g.levels.length).toBe(19); // ceil(log2(221184)) + 1
    const top = g.levels.length - 1;
    expect(tileRead(g, levels, top, 3, 5)).toEqual({ slideLevel: 0, l0X: 1536, l0Y: 2560, lX: 1536, lY: 2560, lWidth: 512, lHeight: 512, zWidth: 512, zHeight: 512 });
    expect(tileRead(g, levels, top - 2, 1, 1)).toMatchObject({ slideLevel: 2, lX: 512, lY: 512, lWidth: 512, lHeight: 512 });
    // Beyond the stored pyramid, the coarsest level is shrunk.
    expect(g.levels[top - 5]!.slideLevel).toBe(3);
  });

  it('bestLevelForDownsample follows OpenSlide (strictly below the next level)', () => {
    const ds = [1, 2, 4.016, 8.08];
    expect([0.5, 1, 1.99, 2, 4, 4.016, 8, 9, 1000].map((d) => bestLevelForDownsample(ds, d))).toEqual([0, 0, 0, 1, 1, 2, 2, 3, 3]);
  });
});

describe('parseTileName and dziXml', () => {
  it('parses only col_row.format', () => {
    expect(parseTileName('12_7.jpeg')).toEqual({ col: 12, row: 7, format: 'jpeg' });
    for (const bad of ['12_7', '-1_2.png', '1_2.jpeg.png', '1e3_2.png', '1_2.PNG', '..%2f_1.png', '1_2.png\0', '1234567890_1.png', '']) expect(parseTileName(bad)).toBeNull();
  });
  it('writes the DZI document', () => {
    const xml = dziXml(deepZoomGeometry(BOXES, 254, 1), 'jpeg');
    expect(xml).toContain('TileSize="254"');
    expect(xml).toContain('Overlap="1"');
    expect(xml).toContain('<Size Height="250" Width="300"/>');
  });
});

const python = '/usr/bin/python3';
const hasOpenSlide = existsSync(python) && (() => {
  try {
    execFileSync(python, ['-c', 'import openslide.deepzoom'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe.skipIf(!hasOpenSlide)('against OpenSlide DeepZoomGenerator itself (python3-openslide)', () => {
  const cases: Array<[string, number, number]> = [
    ['boxes.tiff', 254, 1], ['boxes.tiff', 64, 0], ['boxes.tiff', 30, 3], ['boxes.tiff', 7, 0],
    ['CMU-1-Small-Region.svs', 254, 1], ['CMU-1-Small-Region.svs', 240, 0], ['CMU-1-Small-Region.svs', 510, 1],
  ];
  it.each(cases)('%s tileSize %i overlap %i: every tile', (file, tileSize, overlap) => {
    const ref = JSON.parse(execFileSync(python, [resolve('test/support/openslide-ref.py'), resolve(REAL, file), String(tileSize), String(overlap)], { maxBuffer: 64 << 20 }).toString()) as {
      levelDimensions: [number, number][]; levelDownsamples: number[]; levelCount: number; levelTiles: [number, number][]; dzDimensions: [number, number][]; tiles: number[][];
    };
    const levels = ref.levelDimensions.map(([width, height], i) => ({ width, height, downsample: ref.levelDownsamples[i]! }));
    const g = deepZoomGeometry(levels, tileSize, overlap);
    expect(g.levels.length).toBe(ref.levelCount);
    expect(g.levels.map((l) => [l.cols, l.rows])).toEqual(ref.levelTiles);
    expect(g.levels.map((l) => [l.width, l.height])).toEqual(ref.dzDimensions);
    for (const [dz, col, row, l0x, l0y, sl, lw, lh, zw, zh] of ref.tiles) {
      const t = tileRead(g, levels, dz!, col!, row!)!;
      expect([t.l0X, t.l0Y, t.slideLevel, t.lWidth, t.lHeight, t.zWidth, t.zHeight], `level ${dz} tile ${col}_${row}`).toEqual([l0x, l0y, sl, lw, lh, zw, zh]);
    }
  });
});
