import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CAMELYON_HEIGHT,
  CAMELYON_WIDTH,
  camelyonLevels,
  verifyCamelyonTiff,
  writeCamelyonTiff,
} from '../../bench/camelyon-tiff.js';
import { mapCentre } from '../../bench/datasets.js';
import { lesionBox, levelTiles, maskTilePool, Pool, rng, tileMeets } from '../../bench/lists.js';
import { slideStructure } from '../../src/slides/structure.js';
import { readTiffFile } from '../../src/slides/tiff.js';
import { deepZoomGeometry } from '../../src/tiles/deepzoom.js';

const dir = mkdtempSync(join(tmpdir(), 'bench-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the Camelyon16-geometry BigTIFF', () => {
  it('has the geometry, resolution and codec of a Camelyon16 slide, and decodes', async () => {
    const path = join(dir, 'c.tif');
    const w = await writeCamelyonTiff(path, join(dir, 'src.tif'));
    expect(w.bytes).toBeLessThan(4 * 1024 * 1024);
    const s = slideStructure(readTiffFile(path));
    expect(s.bigTiff).toBe(true);
    expect([s.width, s.height]).toEqual([97792, 221184]);
    expect(s.levels.map((l) => [l.width, l.height])).toEqual(camelyonLevels().map((l) => [l.width, l.height]));
    expect(s.levels.map((l) => l.downsample)).toEqual([1, 2, 4, 8, 16, 32, 64, 128, 256, 512]);
    expect(s.levels.every((l) => l.tileWidth === 512 && l.tileHeight === 512)).toBe(true);
    expect(s.mppX).toBeCloseTo(0.243, 6);
    expect(s.compression.code).toBe(7);
    await verifyCamelyonTiff(path, join(dir, 'src.tif'));
  });
});

describe('patch centres', () => {
  it('swap landscape coordinates onto the portrait slide and stay inside', () => {
    expect(mapCentre({ slide: 'Tumor_106', x: 35081, y: 33425 }, 256, CAMELYON_WIDTH, CAMELYON_HEIGHT)).toEqual({
      id: 'tumor_106',
      x: 33297,
      y: 34953,
    });
    const far = mapCentre({ slide: 'Tumor_102', x: 157309, y: 98157 }, 256, CAMELYON_WIDTH, CAMELYON_HEIGHT);
    expect(far.x).toBe(CAMELYON_WIDTH - 256);
    expect(far.y).toBe(157309 - 128);
    expect(mapCentre({ slide: 'T', x: 3, y: 5 }, 256, CAMELYON_WIDTH, CAMELYON_HEIGHT)).toMatchObject({ x: 0, y: 0 });
  });
});

describe('tile lists', () => {
  const levels = camelyonLevels().map((l) => ({ ...l, downsample: CAMELYON_WIDTH / l.width }));
  const g = deepZoomGeometry(levels, 512, 0);
  it('lists every tile of a level once, and pools hand out disjoint chunks', () => {
    const all = levelTiles(g, g.levels.length - 1, rng(1));
    expect(all).toHaveLength(191 * 432);
    expect(new Set(all.map((t) => `${t.col}_${t.row}`)).size).toBe(all.length);
    const pool = new Pool(all);
    const a = pool.take(100);
    const b = pool.take(100);
    expect(new Set([...a, ...b]).size).toBe(200);
    expect(pool.left).toBe(all.length - 200);
  });
  it('spreads the lesion tiles evenly through the mask tiles and repeats none', () => {
    const pool = maskTilePool(g, rng(1));
    expect(new Set(pool.map((t) => `${t.level}/${t.col}/${t.row}`)).size).toBe(pool.length);
    const box = lesionBox();
    const half = pool.length / 2;
    const first = pool.slice(0, half).filter((t) => tileMeets(g, t, box)).length;
    const second = pool.slice(half).filter((t) => tileMeets(g, t, box)).length;
    expect(first).toBeGreaterThan(1000);
    expect(Math.abs(first - second)).toBeLessThanOrEqual(2);
  });
});
