import { describe, expect, it } from 'vitest';
import {
  assignSlides,
  boundingBox,
  boxMapper,
  buildPatchList,
  contentSpaceSize,
  realLevels,
  REAL_SLIDES,
  tileContent,
  tileIsTissue,
  tissueBox,
  type RealSlideSpec,
} from '../../bench/real/geometry.js';
import { splitJpeg } from '../../bench/real/generate.js';
import { frameKind, summariseProfiles } from '../../bench/real/profile.js';
import { openslideRead } from '../../bench/real/lists.js';
import type { Runs } from '../../bench/real/measure.js';
import { median, scalingRates } from '../../bench/real/results.js';
import { mulberry32 } from '../../src/prng.js';

const spec = (over: Partial<RealSlideSpec> = {}): RealSlideSpec => ({
  id: 'a',
  width: 10_000,
  height: 20_000,
  mpp: 0.25,
  seed: 1,
  tissue: { cx: 0.5, cy: 0.5, rx: 0.4, ry: 0.4 },
  lesions: 'Tumor_105',
  ...over,
});

describe('realLevels', () => {
  it.each([
    [97792, 221184, 10, { width: 191, height: 432 }],
    [86016, 89600, 9, { width: 336, height: 350 }],
    [512, 300, 1, { width: 512, height: 300 }],
    [1025, 10, 2, { width: 512, height: 5 }],
  ])('%i x %i: %i levels, the last %o', (w, h, n, last) => {
    const l = realLevels(w, h);
    expect(l).toHaveLength(n);
    expect(l[l.length - 1]).toEqual(last);
    expect(l[1]?.width ?? w).toBe(n > 1 ? Math.floor(w / 2) : w);
  });
});

describe('tileContent', () => {
  it('gives every tile of a slide a different crop, and stays inside the space', () => {
    const c = { textures: 3, xOffsets: 1025, yOffsets: 513 };
    const n = 120_000;
    const seen = new Set<string>();
    for (let i = 0; i < n; i++) {
      const t = tileContent(i, 105, c);
      expect(t.texture < 3 && t.left < 1025 && t.top < 513).toBe(true);
      seen.add(`${t.texture}/${t.left}/${t.top}/${t.flip}/${t.flop}`);
    }
    expect(seen.size).toBe(n);
  });
  it('is a bijection of a small space and differs between seeds', () => {
    const c = { textures: 2, xOffsets: 3, yOffsets: 5 };
    const m = contentSpaceSize(c);
    expect(m).toBe(120);
    const key = (s: number) =>
      Array.from({ length: m }, (_, i) => {
        const t = tileContent(i, s, c);
        return `${t.texture}/${t.left}/${t.top}/${+t.flip}${+t.flop}`;
      });
    expect(new Set(key(7)).size).toBe(m);
    expect(key(7)).not.toEqual(key(8));
    expect(() => tileContent(m, 7, c)).toThrow(RangeError);
  });
});

describe('tileIsTissue', () => {
  it.each([
    [0, 9, 19, true], // the tile at the ellipse's centre
    [0, 0, 0, false], // the corner
    [0, 1, 19, true], // just inside the left edge (x 512..1024 px, ellipse from 1000)
    [0, 0, 19, false], // left of it
    [5, 0, 0, true], // one tile covers the whole level: it meets the ellipse
  ])('level %i tile %i,%i: %s', (level, tx, ty, want) => {
    expect(tileIsTissue(spec(), level, tx, ty)).toBe(want);
  });
});

describe('boxMapper', () => {
  it('keeps the orientation and fits with one scale, centred', () => {
    const m = boxMapper([0, 0, 100, 50], [0, 0, 400, 400]);
    expect(m(0, 0)).toEqual([0, 100]);
    expect(m(100, 50)).toEqual([400, 300]);
  });
  it('swaps the axes of a landscape source into a portrait box', () => {
    const m = boxMapper([10, 20, 210, 120], [0, 0, 100, 200]);
    expect(m(10, 20)).toEqual([0, 0]);
    expect(m(210, 20)).toEqual([0, 200]);
    expect(m(10, 120)).toEqual([100, 0]);
  });
});

describe('buildPatchList', () => {
  const slides = [spec({ id: 'p', width: 8192, height: 16384 }), spec({ id: 'q', width: 8192, height: 8192 })];
  it('maps each real slide into its target tissue box, clamps, drops repeats and mixes slides', () => {
    const centres = [
      { slide: 'R1', x: 0, y: 0 },
      { slide: 'R1', x: 2000, y: 1000 },
      { slide: 'R1', x: 2000, y: 1000 },
      { slide: 'R2', x: 5, y: 5 },
      { slide: 'R2', x: 15, y: 5 },
    ];
    const assign = (r: string) => (r === 'R1' ? 'p' : 'q');
    const list = buildPatchList(centres, slides, assign, 256, mulberry32(1));
    expect(list).toHaveLength(4);
    const p = list.filter((x) => x.id === 'p').sort((a, b) => a.x - b.x);
    const [bx0, by0, bx1, by1] = tissueBox(slides[0]!);
    // R1 is landscape (2000 x 1000), p's tissue box portrait: swapped, so (0,0) and (2000,1000) are its corners.
    expect(p[0]).toEqual({ id: 'p', x: Math.round(bx0 - 128), y: Math.round(by0 - 128) });
    expect(p[1]).toEqual({ id: 'p', x: Math.round(bx1 - 128), y: Math.round(by1 - 128) });
    for (const x of list) {
      const s = slides.find((t) => t.id === x.id)!;
      expect(x.x >= 0 && x.y >= 0 && x.x <= s.width - 256 && x.y <= s.height - 256).toBe(true);
    }
  });
  it('throws for a real slide without a target', () => {
    expect(() => buildPatchList([{ slide: 'X', x: 1, y: 1 }], slides, () => 'nope', 256, mulberry32(1))).toThrow(
      /no generated slide for X/,
    );
  });
});

describe('assignSlides', () => {
  it('keeps namesakes and spreads the rest round-robin in name order', () => {
    const m = assignSlides(['Tumor_110', 'Tumor_105', 'Normal_141', 'Tumor_101'], ['tumor_105', 'b', 'c']);
    expect([...m.entries()].sort()).toEqual([
      ['Normal_141', 'tumor_105'],
      ['Tumor_101', 'b'],
      ['Tumor_105', 'tumor_105'],
      ['Tumor_110', 'c'],
    ]);
  });
});

describe('boundingBox and the slide specs', () => {
  it('boxes points', () => {
    expect(
      boundingBox([
        [3, 4],
        [-1, 9],
        [2, 2],
      ]),
    ).toEqual([-1, 2, 3, 9]);
  });
  it('has at least 4 slides of two Camelyon16 geometries with distinct seeds', () => {
    expect(REAL_SLIDES.length).toBeGreaterThanOrEqual(4);
    expect(new Set(REAL_SLIDES.map((s) => `${s.width}x${s.height}`)).size).toBe(2);
    expect(new Set(REAL_SLIDES.map((s) => s.seed)).size).toBe(REAL_SLIDES.length);
  });
});

describe('splitJpeg', () => {
  it('moves DQT/DHT into the tables and keeps SOF, SOS and the data in the tile', () => {
    const seg = (m: number, body: number[]) => [0xff, m, 0, body.length + 2, ...body];
    const jpeg = Buffer.from([
      0xff,
      0xd8,
      ...seg(0xe0, [1, 2]),
      ...seg(0xdb, [3]),
      ...seg(0xc0, [4, 5]),
      ...seg(0xc4, [6]),
      ...seg(0xda, [7]),
      9,
      9,
      0xff,
      0xd9,
    ]);
    const { tables, tile } = splitJpeg(jpeg);
    expect([...tables]).toEqual([0xff, 0xd8, ...seg(0xdb, [3]), ...seg(0xc4, [6]), 0xff, 0xd9]);
    expect([...tile]).toEqual([0xff, 0xd8, ...seg(0xc0, [4, 5]), ...seg(0xda, [7]), 9, 9, 0xff, 0xd9]);
    expect(() => splitJpeg(Buffer.from([1, 2]))).toThrow(/not a JPEG/);
  });
});

describe('summariseProfiles', () => {
  it('gives self time by function and kind from the sample counts', () => {
    const frame = (id: number, functionName: string, url: string) => ({
      id,
      callFrame: { functionName, url, lineNumber: 9 },
    });
    const s = summariseProfiles([
      {
        nodes: [
          frame(1, '(root)', ''),
          frame(2, '(idle)', ''),
          frame(3, '(garbage collector)', ''),
          frame(4, 'renderRegion', 'file:///x/dist/slides/region.js'),
          frame(5, 'parse', 'file:///x/node_modules/qs/lib/parse.js'),
        ],
        startTime: 0,
        endTime: 10_000,
        samples: [2, 2, 2, 2, 4, 4, 4, 3, 5, 9],
        timeDeltas: [1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000],
      },
    ]);
    expect(s.totalMs).toBe(10);
    expect(s.byKind).toEqual({ idle: 4, 'service (JS)': 3, gc: 1, 'dependencies (JS)': 1 });
    expect(s.top[0]).toEqual({ fn: '(idle)', where: '', kind: 'idle', selfMs: 4 });
    expect(s.top[1]).toEqual({
      fn: 'renderRegion',
      where: 'dist/slides/region.js:10',
      kind: 'service (JS)',
      selfMs: 3,
    });
  });
  it('counts only the samples inside a window', () => {
    const s = summariseProfiles(
      [
        {
          nodes: [{ id: 1, callFrame: { functionName: 'f', url: 'file:///x/src/a.ts', lineNumber: 0 } }],
          startTime: 1_000_000,
          endTime: 1_004_000,
          samples: [1, 1, 1, 1],
          timeDeltas: [1000, 1000, 1000, 1000],
        },
      ],
      5,
      { fromUs: 1_002_000, toUs: 1_003_500 },
    );
    expect(s.totalMs).toBe(2);
    expect(s.top).toEqual([{ fn: 'f', where: 'src/a.ts:1', kind: 'service (JS)', selfMs: 2 }]);
  });
  it.each([
    ['(program)', '', 'program (V8, native calls)'],
    ['readSync', 'node:fs', 'node internals / native'],
    ['x', 'file:///a/src/b.ts', 'service (JS)'],
  ])('%s %s is %s', (fn, url, kind) => {
    expect(frameKind(fn, url)).toBe(kind);
  });
});

describe('openslideRead', () => {
  it.each([
    [null, 0.243, { level: 0, read: 256, out: 256 }],
    [0.5, 0.243, { level: 1, read: 263, out: 256 }],
    [0.5, 0.226, { level: 1, read: 283, out: 256 }],
    [1.0, 0.243, { level: 2, read: 263, out: 256 }],
    [0.2, 0.243, { level: 0, read: 211, out: 256 }],
  ])('mpp %s on a %s um/px slide: %o', (mpp, slideMpp, want) => {
    const s = spec({ width: 97792, height: 221184, mpp: slideMpp });
    expect(openslideRead(s, { id: 'a', x: 0, y: 0 }, mpp)).toEqual(want);
  });
});

describe('scaling medians', () => {
  const run = (rps: number) => ({ row: { rps } }) as unknown as Runs[string];
  const runs: Runs = {
    '1c L0': run(500),
    '2c L0': run(800),
    '1c L0 #2': run(560),
    '2c L0 #2': run(1000),
    '1c L0 #3': run(440),
    '2c L0 #3': run(900),
    '1c rendered': run(1),
    '2c L0 mpp': run(7),
  };
  it('gathers every pair of a load, and nothing of another load', () => {
    expect(scalingRates(runs, '1c', 'L0')).toEqual([500, 560, 440]);
    expect(scalingRates(runs, '2c', 'L0')).toEqual([800, 1000, 900]);
  });
  it('takes the middle value, or the mean of the two middle ones', () => {
    expect([median([]), median([3]), median([5, 1, 3]), median([4, 1, 3, 2])]).toEqual([null, 3, 3, 2.5]);
    expect(median(scalingRates(runs, '2c', 'L0'))! / (2 * median(scalingRates(runs, '1c', 'L0'))!)).toBeCloseTo(0.9);
  });
});
