import { describe, expect, it } from 'vitest';
import {
  createPyramidBuilder,
  levelSize,
  mode4,
  rasterGeometry,
  reduceBand,
  type LabelTile,
  type RasterGeometry,
} from '../../src/labels/raster.js';
import { assembleLevels, bruteLevels, bruteReduce, rows, type Image } from '../support/core-raster.js';
import { randomInt, seededRandom } from '../support/core-fixtures.js';

/** Pushes `img` band by band (tileSize rows), with dirty columns taken from the band's content. */
function pyramid(img: Image, g: RasterGeometry, dirtyAll = false): LabelTile[] {
  const tiles: LabelTile[] = [];
  const b = createPyramidBuilder(g, (t) => tiles.push(t));
  const ts = g.tileSize;
  for (let row = 0; row < img.height; row += ts) {
    const n = Math.min(ts, img.height - row);
    const band = new Uint8Array(img.width * ts);
    band.set(img.data.subarray(row * img.width, (row + n) * img.width));
    const dirty = new Uint8Array(Math.ceil(img.width / ts));
    for (let k = 0; k < n * img.width; k++) if (dirtyAll || band[k] !== 0) dirty[Math.floor((k % img.width) / ts)] = 1;
    b.pushBand(band, n, dirty);
  }
  b.finish();
  return tiles;
}

function image(width: number, height: number, fill: (i: number, j: number) => number): Image {
  const data = new Uint8Array(width * height);
  for (let j = 0; j < height; j++) for (let i = 0; i < width; i++) data[j * width + i] = fill(i, j);
  return { width, height, data };
}

describe('mode4', () => {
  const table: Array<[[number, number, number, number], number, string]> = [
    [[3, 3, 3, 3], 3, 'uniform'],
    [[0, 0, 0, 0], 0, 'uniform 0'],
    [[2, 2, 2, 5], 2, 'majority of 3'],
    [[5, 1, 1, 0], 1, 'majority of 2 against singles'],
    [[1, 2, 0, 0], 0, 'a majority of unlabelled wins over two singles'],
    [[0, 0, 4, 4], 4, 'tie 2-2: the labelled value wins'],
    [[4, 4, 0, 0], 4, 'tie 2-2: the labelled value wins, either side'],
    [[0, 4, 0, 4], 4, 'tie 2-2 in columns'],
    [[6, 2, 2, 6], 6, 'tie 2-2 of labelled values: first in reading order'],
    [[2, 6, 6, 2], 2, 'tie 2-2 of labelled values: first in reading order (other way)'],
    [[0, 1, 2, 3], 1, 'all different: first labelled in reading order'],
    [[3, 2, 1, 0], 3, 'all different: first in reading order'],
    [[0, 0, 0, 7], 0, '3 unlabelled against 1'],
    [[0, 7, 0, 8], 0, '2 unlabelled against two singles'],
  ];
  for (const [args, want, why] of table) {
    it(`${args.join(',')} -> ${want} (${why})`, () => expect(mode4(...args)).toBe(want));
  }
  it('every block of values 0-3 gets the rule: most frequent, then labelled over 0, then first in reading order', () => {
    const wrong: string[] = [];
    for (let k = 0; k < 256; k++) {
      const block = [k & 3, (k >> 2) & 3, (k >> 4) & 3, k >> 6] as [number, number, number, number];
      const count = (v: number) => block.filter((x) => x === v).length;
      const most = Math.max(...block.map(count));
      const tied = block.filter((v) => count(v) === most);
      const want = tied.find((v) => v !== 0) ?? 0;
      if (mode4(...block) !== want) wrong.push(block.join(','));
    }
    expect(wrong).toEqual([]);
  });
});

describe('reduceBand', () => {
  it('reduces even sizes block by block', () => {
    const band = Uint8Array.from([1, 1, 2, 0, 1, 0, 2, 2, 0, 0, 3, 3, 0, 5, 3, 0]);
    expect(rows(reduceBand(band, 4, 4), 2)).toEqual(['12', '03']);
  });

  it('odd sizes: pixels past the edge do not vote', () => {
    // A uniformly labelled 3 x 3 raster stays uniform one level up.
    expect(rows(reduceBand(new Uint8Array(9).fill(1), 3, 3), 2)).toEqual(['11', '11']);
    // Right column pairs (5 over 6): a 1-1 tie, first in reading order; bottom row pairs likewise.
    const band = Uint8Array.from([0, 0, 5, 0, 0, 6, 7, 8, 9]);
    expect(rows(reduceBand(band, 3, 3), 2)).toEqual(['05', '79']);
    // One row, one column.
    expect(Array.from(reduceBand(Uint8Array.from([4, 0, 0, 2, 3]), 5, 1))).toEqual([4, 2, 3]);
    expect(Array.from(reduceBand(Uint8Array.from([0, 2, 3]), 1, 3))).toEqual([2, 3]);
  });

  it('matches the brute-force mode on random odd and even sizes', () => {
    const rnd = seededRandom(7);
    for (let trial = 0; trial < 200; trial++) {
      const img = image(randomInt(rnd, 1, 13), randomInt(rnd, 1, 13), () => (rnd() < 0.4 ? 0 : randomInt(rnd, 1, 3)));
      const want = bruteReduce(img);
      expect(rows(reduceBand(img.data, img.width, img.height), want.width)).toEqual(rows(want.data, want.width));
    }
  });
});

describe('rasterGeometry / levelSize', () => {
  const table: Array<[[number, number, number, number?], Partial<RasterGeometry>]> = [
    [[1000, 600, 4], { width: 250, height: 150, levels: 1 }],
    [[1025, 600, 4], { width: 257, height: 150, levels: 2 }],
    [[2220, 2967, 4], { width: 555, height: 742, levels: 3 }],
    [[97792, 221184, 4], { width: 24448, height: 55296, levels: 9 }],
    [[300, 250, 16, 8], { width: 19, height: 16, levels: 3, tileSize: 8 }],
    [[10, 10, 2.5], { width: 4, height: 4, levels: 1 }],
  ];
  for (const [[w, h, d, ts], want] of table) {
    it(`${w} x ${h} at downsample ${d}${ts ? `, tiles of ${ts}` : ''}`, () => {
      expect(rasterGeometry(w, h, d, ts)).toMatchObject({ ...want, downsample: d, tileSize: ts ?? 256 });
    });
  }

  it('halves with ceil level by level; the top level fits one tile', () => {
    const g = rasterGeometry(2220, 2967, 4);
    expect(Array.from({ length: g.levels }, (_, k) => levelSize(g, k))).toEqual([
      { width: 555, height: 742 },
      { width: 278, height: 371 },
      { width: 139, height: 186 },
    ]);
  });
});

describe('createPyramidBuilder', () => {
  it('a uniform raster gives uniform tiles only, none with pixel data', () => {
    const g = rasterGeometry(40, 24, 1, 8);
    const tiles = pyramid(
      image(40, 24, () => 3),
      g,
    );
    expect(tiles.every((t) => t.uniform === 3 && t.data === null)).toBe(true);
    // 40 x 24, 20 x 12, 10 x 6, 5 x 3 in tiles of 8.
    expect([0, 1, 2, 3].map((k) => tiles.filter((t) => t.level === k).length)).toEqual([15, 6, 2, 1]);
  });

  it('all-zero tiles are not emitted; mixed tiles carry their data, 0 past the raster edge', () => {
    const g = rasterGeometry(12, 10, 1, 8);
    const tiles = pyramid(
      image(12, 10, (i, j) => (i === 11 && j === 9 ? 2 : 0)),
      g,
    );
    const base = tiles.filter((t) => t.level === 0);
    expect(base.map((t) => [t.tx, t.ty, t.uniform])).toEqual([[1, 1, null]]);
    const data = base[0]!.data!;
    expect(data[1 * 8 + 3]).toBe(2);
    expect(data.reduce((n, v) => n + v, 0)).toBe(2);
  });

  it('level-0 counts cover the raster exactly: per tile they sum to its area inside the raster', () => {
    const g = rasterGeometry(45, 21, 1, 8);
    const rnd = seededRandom(3);
    const img = image(45, 21, () => randomInt(rnd, 1, 4));
    const base = pyramid(img, g).filter((t) => t.level === 0);
    expect(base).toHaveLength(6 * 3);
    let total = 0;
    const perValue = new Map<number, number>();
    for (const t of base) {
      const sum = t.counts!.reduce((n, c) => n + c, 0);
      expect(sum).toBe(Math.min(8, 45 - t.tx * 8) * Math.min(8, 21 - t.ty * 8));
      total += sum;
      t.counts!.forEach((c, v) => c && perValue.set(v, (perValue.get(v) ?? 0) + c));
    }
    expect(total).toBe(45 * 21);
    for (const [v, n] of perValue) expect(n).toBe(img.data.filter((x) => x === v).length);
  });

  it('every level equals a brute-force mode reduction of small random rasters', () => {
    const rnd = seededRandom(11);
    for (let trial = 0; trial < 40; trial++) {
      const w = randomInt(rnd, 1, 90);
      const h = randomInt(rnd, 1, 90);
      const ts = [4, 8, 16][trial % 3]!;
      // Sparse blobs, so many tiles are empty and the dirty bookkeeping is exercised.
      const cx = rnd() * w;
      const cy = rnd() * h;
      const r = rnd() * 30;
      const img = image(w, h, (i, j) =>
        (i - cx) ** 2 + (j - cy) ** 2 < r * r ? (rnd() < 0.8 ? 1 : randomInt(rnd, 2, 4)) : 0,
      );
      const g = rasterGeometry(w, h, 1, ts);
      const want = bruteLevels(img, g.levels);
      for (const dirtyAll of [false, true]) {
        const got = assembleLevels(pyramid(img, g, dirtyAll), g);
        got.forEach((lvl, k) =>
          expect({ trial, k, rows: rows(lvl.data, lvl.width) }).toEqual({
            trial,
            k,
            rows: rows(want[k]!.data, want[k]!.width),
          }),
        );
      }
    }
  });

  it('tiles are keyed by level and position, each emitted once, inside their level', () => {
    const g = rasterGeometry(70, 50, 1, 8);
    const tiles = pyramid(
      image(70, 50, (i, j) => (i + j) % 3),
      g,
    );
    const keys = tiles.map((t) => `${t.level}/${t.tx}/${t.ty}`);
    expect(new Set(keys).size).toBe(keys.length);
    for (const t of tiles) {
      const { width, height } = levelSize(g, t.level);
      expect(t.tx).toBeLessThan(Math.ceil(width / 8));
      expect(t.ty).toBeLessThan(Math.ceil(height / 8));
    }
  });
});
