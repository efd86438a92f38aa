import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  inBand,
  nearErrorBound,
  nearShift,
  poolAny,
  squaredDistanceTransform,
  type TileValues,
} from '../../src/patches/distance.js';

/** Squared distance from each cell to the nearest set cell, by trying every pair. */
function bruteSquared(mask: Uint8Array, w: number, h: number): Float64Array {
  const out = new Float64Array(w * h).fill(Infinity);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let j = 0; j < h; j++)
        for (let i = 0; i < w; i++)
          if (mask[j * w + i]) out[y * w + x] = Math.min(out[y * w + x]!, (x - i) ** 2 + (y - j) ** 2);
  return out;
}

const raster = fc
  .record({
    w: fc.integer({ min: 1, max: 24 }),
    h: fc.integer({ min: 1, max: 24 }),
    p: fc.double({ min: 0, max: 1, noNaN: true }),
  })
  .chain(({ w, h, p }) =>
    fc
      .array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: w * h, maxLength: w * h })
      .map((u) => ({ w, h, values: Uint8Array.from(u, (x) => (x < p * p ? 1 + Math.floor(x * 7) : 0)) })),
  );

/** A raster cut into tiles of `ts` pixels, 0 past its edge, uniform tiles as their value: what the reader gives. */
function tilesOf(values: Uint8Array, w: number, h: number, ts: number) {
  const across = Math.ceil(w / ts);
  const down = Math.ceil(h / ts);
  const tiles: number[] = [];
  const at = (tx: number, ty: number): TileValues => {
    const t = new Uint8Array(ts * ts);
    for (let y = 0; y < ts && ty * ts + y < h; y++)
      for (let x = 0; x < ts && tx * ts + x < w; x++) t[y * ts + x] = values[(ty * ts + y) * w + tx * ts + x]!;
    const full = tx * ts + ts <= w && ty * ts + ts <= h;
    return full && t.every((v) => v === t[0]) ? t[0]! : t;
  };
  for (let ty = 0; ty < down; ty++) for (let tx = 0; tx < across; tx++) tiles.push(tx, ty);
  return { tiles: Int32Array.from(tiles), at };
}

describe('squaredDistanceTransform', () => {
  it('gives the exact squared distances of a small table', () => {
    const mask = Uint8Array.from([1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    expect([...squaredDistanceTransform(mask, 4, 3)]).toEqual([0, 1, 4, 4, 1, 2, 2, 1, 4, 4, 1, 0]);
  });

  it('is Infinity everywhere without a set cell, 0 everywhere with all set', () => {
    expect([...squaredDistanceTransform(new Uint8Array(6), 3, 2)]).toEqual(Array(6).fill(Infinity));
    expect([...squaredDistanceTransform(new Uint8Array(6).fill(1), 2, 3)]).toEqual(Array(6).fill(0));
  });

  it('equals brute force on random rasters', () => {
    fc.assert(
      fc.property(raster, ({ w, h, values }) => {
        expect([...squaredDistanceTransform(values, w, h)]).toEqual([...bruteSquared(values, w, h)]);
      }),
      { numRuns: 300, seed: 13 },
    );
  });
});

describe('poolAny', () => {
  it('marks exactly the cells holding a member pixel, uniform tiles and edges included', () => {
    fc.assert(
      fc.property(raster, fc.integer({ min: 0, max: 3 }), ({ w, h, values }, shift) => {
        const member = new Uint8Array(256);
        member[1] = member[3] = 1;
        const { tiles, at } = tilesOf(values, w, h, 8);
        const pooled = poolAny(w, h, 8, shift, tiles, at, member);
        const c = 2 ** shift;
        expect(pooled.width).toBe(Math.ceil(w / c));
        expect(pooled.height).toBe(Math.ceil(h / c));
        const want = new Uint8Array(pooled.width * pooled.height);
        for (let y = 0; y < h; y++)
          for (let x = 0; x < w; x++)
            if (member[values[y * w + x]!]) want[Math.floor(y / c) * pooled.width + Math.floor(x / c)] = 1;
        expect([...pooled.mask]).toEqual([...want]);
      }),
      { numRuns: 200, seed: 7 },
    );
  });

  it('fills whole cells for a uniform member tile and skips a uniform non-member one', () => {
    const member = new Uint8Array(256);
    member[2] = 1;
    const pooled = poolAny(16, 8, 8, 2, Int32Array.from([0, 0, 1, 0]), (tx) => (tx === 0 ? 2 : 5), member);
    expect([...pooled.mask]).toEqual([1, 1, 0, 0, 1, 1, 0, 0]);
  });
});

describe('distance of a point through pooled cells', () => {
  it('stays within one cell diagonal of the distance to the nearest class-pixel centre', () => {
    const point = fc.record({
      u: fc.double({ min: 0, max: 0.999999, noNaN: true }),
      v: fc.double({ min: 0, max: 0.999999, noNaN: true }),
    });
    fc.assert(
      fc.property(
        raster,
        fc.integer({ min: 0, max: 3 }),
        fc.array(point, { minLength: 1, maxLength: 20 }),
        (r, shift, pts) => {
          const { w, h, values } = r;
          const member = new Uint8Array(256);
          member[2] = member[5] = 1;
          const { tiles, at } = tilesOf(values, w, h, 8);
          const pooled = poolAny(w, h, 8, shift, tiles, at, member);
          const sq = squaredDistanceTransform(pooled.mask, pooled.width, pooled.height);
          const c = 2 ** shift;
          for (const { u, v } of pts) {
            const px = u * w;
            const py = v * h;
            let truth = Infinity;
            for (let j = 0; j < h; j++)
              for (let i = 0; i < w; i++)
                if (member[values[j * w + i]!]) truth = Math.min(truth, Math.hypot(px - (i + 0.5), py - (j + 0.5)));
            const cell = Math.sqrt(sq[Math.floor(py / c) * pooled.width + Math.floor(px / c)]!) * c;
            if (truth === Infinity) expect(cell).toBe(Infinity);
            else expect(Math.abs(cell - truth)).toBeLessThan(nearErrorBound(c));
          }
        },
      ),
      { numRuns: 200, seed: 3 },
    );
  });
});

describe('nearShift', () => {
  it.each([
    [100, 100, 10_000, 256, 0],
    [100, 100, 9_999, 256, 1],
    [1000, 500, 1 << 12, 256, 4],
    [101, 101, 2601, 256, 1],
    [101, 101, 2600, 256, 2],
    [1 << 20, 1 << 20, 1, 256, 8],
  ])('%i x %i within %i cells (tiles of %i): shift %i', (w, h, max, ts, want) => {
    expect(nearShift(w, h, max, ts)).toBe(want);
  });
});

describe('inBand', () => {
  it.each([
    [0, 0, 500, true],
    [500, 0, 500, true],
    [500.01, 0, 500, false],
    [0, 1, 500, false],
    [1, 1, 500, true],
    [Infinity, 0, 1e6, false],
  ])('%f in [%f, %f]: %s', (d, lo, hi, want) => {
    expect(inBand(d, lo, hi)).toBe(want);
  });
});
