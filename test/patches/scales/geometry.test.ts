import { describe, expect, it } from 'vitest';
import { centredSquare, scaleSizeL0, scaleSquares } from '../../../src/patches/scales/geometry.js';

describe('scaleSizeL0', () => {
  it.each([
    [{ size: 256, level: 0, mpp: null }, 0.25, [1, 2, 4, 8], 256],
    [{ size: 256, level: 2, mpp: null }, 0.25, [1, 2, 4, 8], 1024],
    [{ size: 256, level: 3, mpp: null }, null, [1, 2, 4, 8], 2048],
    [{ size: 256, level: null, mpp: 0.25 }, 0.25, [1], 256],
    [{ size: 256, level: null, mpp: 1 }, 0.25, [1], 1024],
    [{ size: 256, level: null, mpp: 4 }, 0.25, [1], 4096],
    [{ size: 255, level: null, mpp: 0.5 }, 0.25, [1], 510],
    // The sampler's own formula, to the last bit: scale 0 of a multi-scale sample is its patch.
    [{ size: 256, level: null, mpp: 1 }, 0.243, [1], (256 * 1) / 0.243],
    [{ size: 256, level: null, mpp: 1 }, 0.226, [1], (256 * 1) / 0.226],
  ])('%o on a slide of %s um/px, downsamples %o: %s', (ask, mpp, ds, want) => {
    expect(scaleSizeL0(ask, mpp, ds)).toBe(want);
  });
});

describe('centredSquare', () => {
  it.each([
    // cx, cy, sizeL0 -> x, y: the square's centre is the point (even side, integer centre)
    [100, 100, 50, 75, 75],
    [1000, 2000, 1024, 488, 1488],
    // centre on a half pixel, even side: the corner rounds half up (centre off by 0.5 level-0 px)
    [127.5, 127.5, 512, -128, -128],
    // centre on a half pixel, odd side: exact
    [127.5, 127.5, 511, -128, -128],
    [127.5, 127.5, 255, 0, 0],
    // integer centre, odd side: half up
    [100, 100, 51, 75, 75],
    [100, 100, 1, 100, 100],
    // non-integer sides (by mpp): the nearest whole corner
    [1000, 1000, (256 * 4) / 0.243, -1107, -1107],
    [1000, 1000, (256 * 1) / 0.226, 434, 434],
    // edges: past the top-left or the far edge of any slide, never shifted back
    [10, 20, 100, -40, -30],
    [0, 0, 4096, -2048, -2048],
    [36000, 20000, 4096, 33952, 17952],
  ])('centre (%s, %s), side %s -> (%s, %s)', (cx, cy, s, x, y) => {
    const sq = centredSquare(cx, cy, s);
    expect(sq).toEqual({ x, y, sizeL0: s });
    expect(Math.abs(sq.x + s / 2 - cx)).toBeLessThanOrEqual(0.5);
    expect(Math.abs(sq.y + s / 2 - cy)).toBeLessThanOrEqual(0.5);
  });

  it('rounds a tie that floating point left a bit below half still up', () => {
    // 0.1 + 0.2 - 0.3 - 0.5 is a hair below -0.5 in binary: still a tie, so 0.
    expect(centredSquare(0.1 + 0.2 - 0.3, 0, 1).x).toBe(0);
    expect(centredSquare(0.1 + 0.2, 0, 0.6).x).toBe(0);
  });
});

describe('scaleSquares', () => {
  it('keeps the first square as sampled and centres the others on its centre', () => {
    const first = { x: 1536, y: 2048, sizeL0: (256 * 0.25) / 0.243 };
    const sizes = [first.sizeL0, (256 * 1) / 0.243, (256 * 4) / 0.243];
    const sq = scaleSquares(first, sizes);
    expect(sq[0]).toEqual(first);
    expect(sq.map((s) => [s.x, s.y])).toEqual([
      [1536, 2048],
      // centre 1536 + 131.687 = 1667.687: 1667.687 - 526.749 = 1140.938; 1667.687 - 2106.996 = -439.309
      [1141, 1653],
      [-439, 73],
    ]);
    const c = (s: { x: number; sizeL0: number }) => s.x + s.sizeL0 / 2;
    for (const s of sq) expect(Math.abs(c(s) - c(first))).toBeLessThanOrEqual(0.5);
  });

  it('by level: exact centres for a 2:1 pyramid', () => {
    expect(scaleSquares({ x: 512, y: 256, sizeL0: 256 }, [256, 1024, 4096])).toEqual([
      { x: 512, y: 256, sizeL0: 256 },
      { x: 128, y: -128, sizeL0: 1024 },
      { x: -1408, y: -1664, sizeL0: 4096 },
    ]);
  });
});
