import { describe, expect, it } from 'vitest';
import { prepareShapes, rasterizeRows, rasterWork } from '../../src/labels/rasterize.js';
import type { LabelShape } from '../../src/labels/shapes.js';
import { bruteCompose, rows } from '../support/core-raster.js';
import { randomInt, seededRandom } from '../support/core-fixtures.js';
import { combRing } from '../support/fuzz-arbitraries.js';

/** A shape from [x, y] points (level-0 pixels); several point lists = several rings (even-odd). */
function shape(value: number | null, ...rings: Array<Array<[number, number]>>): LabelShape {
  return { value, name: `v${value}`, rings: rings.map((r) => Float64Array.from(r.flat())) };
}

const rect = (x0: number, y0: number, x1: number, y1: number): Array<[number, number]> => [
  [x0, y0],
  [x1, y0],
  [x1, y1],
  [x0, y1],
];

/** Rasterises one source band by band (bands of `band` rows), as the composer does. */
function raster(
  shapes: LabelShape[],
  width: number,
  height: number,
  d = 1,
  band = height,
  tileSize = 4,
): { data: Uint8Array; dirty: Uint8Array[] } {
  const scanners = prepareShapes(shapes, d);
  const data = new Uint8Array(width * height);
  const dirty: Uint8Array[] = [];
  for (let row = 0; row < height; row += band) {
    const n = Math.min(band, height - row);
    const layer = new Uint8Array(width * n);
    const d8 = new Uint8Array(Math.ceil(width / tileSize));
    rasterizeRows(layer, width, row, n, scanners, d8, tileSize);
    data.set(layer, row * width);
    dirty.push(d8);
  }
  return { data, dirty };
}

describe('rasterizeRows: exact tables (pixel centre inside, even-odd)', () => {
  const cases: Array<{ title: string; shapes: LabelShape[]; w: number; h: number; d?: number; expected: string[] }> = [
    {
      title: 'a square on integer corners covers the pixels whose centres it holds',
      shapes: [shape(1, rect(1, 1, 4, 3))],
      w: 6,
      h: 4,
      expected: ['000000', '011100', '011100', '000000'],
    },
    {
      title: 'edges through pixel centres: left/top edge included, right/bottom excluded',
      shapes: [shape(2, rect(0.5, 0.5, 2.5, 2.5))],
      w: 4,
      h: 4,
      expected: ['2200', '2200', '0000', '0000'],
    },
    {
      title: 'a triangle whose hypotenuse runs through pixel centres (i + j = 5 is outside)',
      shapes: [
        shape(3, [
          [0, 0],
          [6, 0],
          [0, 6],
        ]),
      ],
      w: 6,
      h: 6,
      expected: ['333330', '333300', '333000', '330000', '300000', '000000'],
    },
    {
      title: 'a polygon with a hole (second ring): even-odd leaves the hole empty',
      shapes: [shape(1, rect(0, 0, 6, 6), rect(2, 2, 4, 5))],
      w: 6,
      h: 6,
      expected: ['111111', '111111', '110011', '110011', '110011', '111111'],
    },
    {
      title: 'three nested rings: an island inside the hole is filled again',
      shapes: [shape(4, rect(0, 0, 7, 7), rect(1, 1, 6, 6), rect(3, 3, 4, 4))],
      w: 7,
      h: 7,
      expected: ['4444444', '4000004', '4000004', '4004004', '4000004', '4000004', '4444444'],
    },
    {
      title: 'downsample 4: the raster pixel (i, j) is sampled at level-0 (4i + 2, 4j + 2)',
      shapes: [shape(1, rect(4, 4, 20, 12)), shape(2, rect(0, 14, 6, 18))],
      d: 4,
      w: 6,
      h: 5,
      expected: ['000000', '011110', '011110', '200000', '000000'],
    },
    {
      title: 'shapes partly outside are clipped to the raster; one wholly outside paints nothing',
      shapes: [
        shape(1, rect(-3, -3, 3, 2)),
        shape(2, rect(2, 3, 9, 9)),
        shape(3, rect(-9, 1, -1, 3)),
        shape(5, rect(10, 0, 12, 4)),
      ],
      w: 4,
      h: 4,
      expected: ['1110', '1110', '0000', '0022'],
    },
    {
      title: 'painting order: a later shape paints over an earlier one',
      shapes: [shape(1, rect(0, 0, 4, 3)), shape(2, rect(2, 1, 5, 3))],
      w: 5,
      h: 3,
      expected: ['11110', '11222', '11222'],
    },
    {
      title: 'a hole erases what its source painted, wherever it stands in the file',
      shapes: [shape(null, rect(1, 1, 3, 3)), shape(1, rect(0, 0, 4, 4)), shape(2, rect(2, 0, 4, 2))],
      w: 4,
      h: 4,
      expected: ['1122', '1002', '1001', '1111'],
    },
  ];
  for (const c of cases) {
    it(c.title, () => {
      expect(rows(raster(c.shapes, c.w, c.h, c.d).data, c.w)).toEqual(c.expected);
    });
  }

  it('gives the same pixels whatever the band height', () => {
    const shapes = [
      shape(1, [
        [0.3, 0.2],
        [9.7, 3.1],
        [4.4, 8.9],
      ]),
      shape(null, rect(3, 3, 5, 5)),
    ];
    const whole = raster(shapes, 10, 9).data;
    for (const band of [1, 2, 3, 4]) expect(raster(shapes, 10, 9, 1, band).data).toEqual(whole);
  });
});

describe('rasterizeRows: dirty tile columns', () => {
  it('marks every tile column a painted span touches, and no other', () => {
    const cases: Array<{ shapes: LabelShape[]; expected: number[] }> = [
      { shapes: [shape(1, rect(5, 0, 7, 1))], expected: [0, 1, 0] },
      { shapes: [shape(1, rect(3, 0, 5, 1))], expected: [1, 1, 0] },
      { shapes: [shape(1, rect(-5, 0, 12, 1))], expected: [1, 1, 1] },
      // A span that covers no pixel centre (3.6 .. 4.4) touches nothing.
      { shapes: [shape(1, rect(3.6, 0, 4.4, 1))], expected: [0, 0, 0] },
      // Holes write 0 and never mark a column.
      { shapes: [shape(null, rect(0, 0, 10, 1))], expected: [0, 0, 0] },
    ];
    for (const c of cases) expect(Array.from(raster(c.shapes, 10, 1).dirty[0]!)).toEqual(c.expected);
  });

  it('marks per band: a column is dirty in the bands its shape reaches', () => {
    const { dirty } = raster([shape(1, rect(0, 5, 2, 7))], 8, 8, 1, 4);
    expect(dirty.map((d) => Array.from(d))).toEqual([
      [0, 0],
      [1, 0],
    ]);
  });
});

describe('prepareShapes / row order', () => {
  it('gives the first and last rows a shape can cover (rows clipped at 0)', () => {
    const table: Array<[LabelShape, number, [number, number]]> = [
      [shape(1, rect(0, 1, 4, 3)), 1, [1, 2]],
      [shape(1, rect(0, 0.5, 4, 2.5)), 1, [0, 1]],
      [shape(1, rect(0, 0.6, 4, 2.6)), 1, [1, 2]],
      [shape(1, rect(0, -8, 4, 8)), 4, [0, 1]],
      [shape(1, rect(0, 8, 4, 16)), 4, [2, 3]],
    ];
    for (const [s, d, [lo, hi]] of table) {
      const [scanner] = prepareShapes([s], d);
      expect([scanner!.rowMin, scanner!.rowMax]).toEqual([lo, hi]);
    }
  });

  it('drops shapes too thin to cover a pixel-centre row', () => {
    expect(prepareShapes([shape(1, rect(0, 1.6, 9, 2.4))], 1)).toEqual([]);
  });

  it('refuses rows that go backwards', () => {
    const scanners = prepareShapes([shape(1, rect(0, 0, 9, 9))], 1);
    rasterizeRows(new Uint8Array(9 * 4), 9, 4, 4, scanners, new Uint8Array(3), 4);
    expect(() => rasterizeRows(new Uint8Array(9 * 4), 9, 0, 4, scanners, new Uint8Array(3), 4)).toThrow(/increasing/);
  });
});

describe('rasterizeRows against a brute-force point-in-polygon reference', () => {
  /** A random polygon on a 1/4-pixel grid: many vertices, edges and centres meet exactly. */
  function randomRing(rnd: () => number, w: number, h: number): Array<[number, number]> {
    const n = randomInt(rnd, 3, 12);
    const q = (v: number) => Math.round(v * 4) / 4;
    return Array.from({ length: n }, () => [q(rnd() * (w + 8) - 4), q(rnd() * (h + 8) - 4)] as [number, number]);
  }

  it('agrees pixel for pixel on 300 seeded random layouts (self-intersecting, holes, d = 1, 2, 4)', () => {
    const rnd = seededRandom(20250601);
    let labelled = 0;
    for (let trial = 0; trial < 300; trial++) {
      const d = [1, 2, 4][trial % 3]!;
      const w = randomInt(rnd, 1, 40);
      const h = randomInt(rnd, 1, 40);
      const shapes: LabelShape[] = [];
      for (let k = randomInt(rnd, 1, 4); k > 0; k--) {
        const value = rnd() < 0.25 ? null : randomInt(rnd, 1, 9);
        const rings = Array.from({ length: randomInt(rnd, 1, 3) }, () => randomRing(rnd, w * d, h * d));
        shapes.push(shape(value, ...rings));
      }
      const band = randomInt(rnd, 1, h);
      const got = raster(shapes, w, h, d, band).data;
      const want = bruteCompose([{ kind: 'vector', shapes }], w, h, d);
      labelled += want.filter((v) => v !== 0).length;
      if (!Buffer.from(got).equals(Buffer.from(want))) {
        expect({ trial, w, h, d, rows: rows(got, w) }).toEqual({ trial, w, h, d, rows: rows(want, w) });
      }
    }
    // The layouts are not trivially empty.
    expect(labelled).toBeGreaterThan(20_000);
  });
});

describe('rasterizeRows on combs (every edge spans every row: vertical runs and split edges)', () => {
  const comb = (value: number | null, n: number, x0: number, y0: number, w: number, h: number) =>
    shape(value, combRing(n, x0, y0, w, h) as Array<[number, number]>);

  /**
   * The reference of the rule: per row, every edge's crossing (the same expression), sorted, and
   * spans [ceil(xa - 0.5), ceil(xb - 0.5)) between pairs. (pnpoly's own expression rounds
   * differently where a comb's irrational-step edges pass exactly through pixel centres.)
   */
  function sortedCrossings(shapes: LabelShape[], w: number, h: number, d: number): Uint8Array {
    const out = new Uint8Array(w * h);
    for (const s of [...shapes.filter((x) => x.value !== null), ...shapes.filter((x) => x.value === null)]) {
      for (let j = 0; j < h; j++) {
        const yc = j + 0.5;
        const xs: number[] = [];
        for (const ring of s.rings) {
          const n = ring.length / 2;
          for (let p = 0; p < n; p++) {
            const q = (p + 1) % n;
            let [ax, ay, bx, by] = [ring[2 * p]! / d, ring[2 * p + 1]! / d, ring[2 * q]! / d, ring[2 * q + 1]! / d];
            if (ay > by) [ax, ay, bx, by] = [bx, by, ax, ay];
            if (ay <= yc && yc < by) xs.push(ax + ((yc - ay) * (bx - ax)) / (by - ay));
          }
        }
        xs.sort((a, b) => a - b);
        for (let k = 0; k + 1 < xs.length; k += 2) {
          const i0 = Math.max(0, Math.ceil(xs[k]! - 0.5));
          const i1 = Math.min(w, Math.ceil(xs[k + 1]! - 0.5));
          if (i1 > i0) out.fill(s.value ?? 0, j * w + i0, j * w + i1);
        }
      }
    }
    return out;
  }

  it('agrees pixel for pixel with sorted crossings, teeth finer and coarser than a pixel, d = 1, 2, 4, any bands', () => {
    const rnd = seededRandom(77);
    const layouts: Array<{ shapes: LabelShape[]; w: number; h: number; d: number }> = [
      { shapes: [comb(1, 2_003, 1, 3, 60, 50)], w: 64, h: 60, d: 1 },
      { shapes: [comb(2, 41, 0.5, 0.25, 61, 58)], w: 64, h: 60, d: 1 },
      { shapes: [comb(3, 303, 2, 12, 240, 220), comb(null, 55, 40, 40, 100, 100)], w: 64, h: 64, d: 4 },
      { shapes: [comb(4, 5_000, -10, -20, 300, 260)], w: 70, h: 70, d: 2 },
      // Nearly vertical long edges (one column change each) next to 45-degree ones.
      {
        shapes: [
          shape(5, [
            [3.3, 0],
            [4.6, 63],
            [40, 63],
            [10, 0],
          ]),
        ],
        w: 48,
        h: 64,
        d: 1,
      },
    ];
    for (const [k, l] of layouts.entries()) {
      const want = sortedCrossings(l.shapes, l.w, l.h, l.d);
      expect(want.some((v) => v !== 0)).toBe(true);
      for (const band of [l.h, 1, randomInt(rnd, 2, 40)]) {
        const got = raster(l.shapes, l.w, l.h, l.d, band).data;
        if (!Buffer.from(got).equals(Buffer.from(want)))
          expect({ k, band, rows: rows(got, l.w) }).toEqual({ k, band, rows: rows(want, l.w) });
      }
    }
  });
});

describe('rasterWork: the budget the indexer checks before painting', () => {
  it('counts edges, bands, row-by-row toggles and bounding-box pixels', () => {
    // A 4 x 2 rectangle on a 10 x 10 raster in bands of 4: 2 vertical edges (2 rows, 1 band, no
    // column change: 1 + 1 + 1 each) and a box of 2 rows x 5 columns (x 1 .. 5 inclusive).
    expect(rasterWork([shape(1, rect(1, 1, 5, 3))], 1, 10, 10, 4)).toBe(2 * 3 + 2 * 5);
    // Off the raster: only the edges themselves.
    expect(rasterWork([shape(1, rect(20, 20, 25, 25))], 1, 10, 10, 4)).toBe(2);
    // A diagonal changes column every row: it costs its rows, not more.
    const diag = rasterWork(
      [
        shape(1, [
          [0, 0],
          [100, 100],
          [0, 100],
        ]),
      ],
      1,
      100,
      100,
      256,
    );
    expect(diag).toBeGreaterThan(100 + 100 * 101);
    expect(diag).toBeLessThan(3 * 100 + 100 * 101 + 10);
  });

  it('a 100,000-vertex comb on a 2,048 px slide (512 px raster) is cheap: vertical runs, not edges x rows', () => {
    const comb = [shape(1, combRing(100_000, 10, 20, 2028, 2008) as Array<[number, number]>)];
    const work = rasterWork(comb, 4, 512, 512, 256);
    // ~100,000 edges x (1 + 2 bands) plus the 512 x 512 box; a scan per row would be 512 x 100,000.
    expect(work).toBeGreaterThan(512 * 500);
    expect(work).toBeLessThan(2_000_000);
    // Refined 4x: every edge changes column now and then, still far below edges x rows.
    expect(rasterWork(comb, 1, 2048, 2048, 256)).toBeLessThan(20_000_000);
  });
});
