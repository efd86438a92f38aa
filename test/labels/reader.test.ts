/**
 * The label reader against brute force on random rasters stored as the ingest stores them
 * (uniform tiles as values, mixed tiles deflated): regions and histograms of any rectangle,
 * inside, across tile edges and off the raster; the same answers with a cache too small to hold
 * a tile; and two versions of a slide (ETags) never mixed.
 */
import Database from 'better-sqlite3';
import { deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { migrate } from '../../src/db/migrate.js';
import {
  createPyramidBuilder,
  levelSize,
  rasterGeometry,
  type LabelTile,
  type RasterGeometry,
} from '../../src/labels/raster.js';
import { createLabelReader, type LabelRaster } from '../../src/labels/reader.js';
import { randomInt, seededRandom } from '../support/core-fixtures.js';

const TS = 16;

/** A raster of blocks: most tiles one value (uniform), some noisy (mixed), some 0 (not stored). */
function blocks(width: number, height: number, seed: number): Uint8Array {
  const rnd = seededRandom(seed);
  const kind = new Map<string, number>();
  const data = new Uint8Array(width * height);
  for (let j = 0; j < height; j++) {
    for (let i = 0; i < width; i++) {
      const key = `${Math.floor(i / TS)},${Math.floor(j / TS)}`;
      if (!kind.has(key)) kind.set(key, randomInt(rnd, 0, 9));
      const k = kind.get(key)!;
      data[j * width + i] = k < 2 ? 0 : k < 7 ? k : randomInt(rnd, 0, 4);
    }
  }
  return data;
}

function store(db: Database.Database, slideId: string, g: RasterGeometry, data: Uint8Array): void {
  const ins = db.prepare('INSERT INTO label_tiles VALUES (?, ?, ?, ?, ?, ?)');
  const b = createPyramidBuilder(g, (t: LabelTile) =>
    ins.run(slideId, t.level, t.ty, t.tx, t.uniform, t.data ? deflateRawSync(t.data) : null),
  );
  for (let row = 0; row < g.height; row += TS) {
    const n = Math.min(TS, g.height - row);
    const band = new Uint8Array(g.width * TS);
    band.set(data.subarray(row * g.width, (row + n) * g.width));
    b.pushBand(band, n, new Uint8Array(Math.ceil(g.width / TS)).fill(1));
  }
  b.finish();
}

function setup(width: number, height: number, seed: number, cacheBytes: number) {
  const db = new Database(':memory:');
  migrate(db);
  db.pragma('foreign_keys = OFF');
  const g = rasterGeometry(width, height, 1, TS);
  const data = blocks(width, height, seed);
  store(db, 's1', g, data);
  const raster: LabelRaster = { ...g, slideId: 's1', etag: 'e1' };
  return { db, g, data, raster, reader: createLabelReader(db, cacheBytes) };
}

function bruteRegion(data: Uint8Array, w: number, h: number, x: number, y: number, rw: number, rh: number): Uint8Array {
  const out = new Uint8Array(rw * rh);
  for (let j = 0; j < rh; j++)
    for (let i = 0; i < rw; i++)
      if (x + i >= 0 && y + j >= 0 && x + i < w && y + j < h) out[j * rw + i] = data[(y + j) * w + x + i]!;
  return out;
}

function bruteHistogram(values: Uint8Array): Float64Array {
  const h = new Float64Array(256);
  for (const v of values) h[v]!++;
  return h;
}

describe('label reader', () => {
  it.each([
    ['a cache holding every tile', 1 << 24],
    ['a cache smaller than one tile', 1],
  ])('regions and histograms equal brute force (%s)', (_what, cacheBytes) => {
    const W = 150;
    const H = 97;
    const { data, raster, reader } = setup(W, H, 5, cacheBytes);
    const rnd = seededRandom(9);
    const rects: Array<[number, number, number, number]> = [
      [0, 0, W, H],
      [-5, -3, 20, 11],
      [W - 4, H - 2, 9, 9],
      [TS, TS, TS, TS],
      [TS - 1, TS - 1, 2, 2],
      [W + 3, 0, 4, 4],
    ];
    for (let k = 0; k < 300; k++)
      rects.push([
        randomInt(rnd, -10, W + 5),
        randomInt(rnd, -10, H + 5),
        randomInt(rnd, 1, 60),
        randomInt(rnd, 1, 60),
      ]);
    for (const [x, y, w, h] of rects) {
      const want = bruteRegion(data, W, H, x, y, w, h);
      expect(reader.region(raster, 0, x, y, w, h)).toEqual(want);
      expect(reader.histogram(raster, 0, x, y, w, h)).toEqual(bruteHistogram(want));
    }
  });

  it('answers uniform tiles with their value, mixed ones with their pixels, unstored ones with 0', () => {
    const { data, raster, reader, g } = setup(64, 64, 3, 1 << 20);
    const kinds = new Set<string>();
    for (let ty = 0; ty < 4; ty++) {
      for (let tx = 0; tx < 4; tx++) {
        const t = reader.tile(raster, 0, tx, ty);
        const want = bruteRegion(data, 64, 64, tx * TS, ty * TS, TS, TS);
        if (typeof t === 'number') {
          expect(want.every((v) => v === t)).toBe(true);
          kinds.add(t === 0 ? 'zero' : 'uniform');
        } else {
          expect(new Uint8Array(t)).toEqual(want);
          kinds.add('mixed');
        }
        // Asked again (from the grid or the cache): the same answer.
        expect(reader.tile(raster, 0, tx, ty)).toEqual(t);
      }
    }
    expect([...kinds].sort()).toEqual(['mixed', 'uniform', 'zero']);
    const top = levelSize(g, g.levels - 1);
    expect(reader.tile(raster, 0, -1, 0)).toBe(0);
    expect(reader.tile(raster, 0, 4, 0)).toBe(0);
    expect(reader.histogram(raster, g.levels - 1, 0, 0, top.width, top.height).reduce((a, b) => a + b, 0)).toBe(
      top.width * top.height,
    );
  });

  it('keeps versions of a slide apart by ETag', () => {
    const db = new Database(':memory:');
    migrate(db);
    db.pragma('foreign_keys = OFF');
    const g = rasterGeometry(32, 32, 1, TS);
    const reader = createLabelReader(db, 1 << 20);
    store(db, 's1', g, new Uint8Array(32 * 32).fill(3));
    const v1: LabelRaster = { ...g, slideId: 's1', etag: 'v1' };
    expect(reader.tile(v1, 0, 1, 1)).toBe(3);
    // Re-ingested with other labels: a new ETag, so the old grid is not consulted.
    db.prepare('DELETE FROM label_tiles').run();
    store(db, 's1', g, new Uint8Array(32 * 32).fill(5));
    const v2: LabelRaster = { ...g, slideId: 's1', etag: 'v2' };
    expect(reader.tile(v2, 0, 1, 1)).toBe(5);
    expect(reader.histogram(v2, 0, 0, 0, 32, 32)[5]).toBe(32 * 32);
  });
});
