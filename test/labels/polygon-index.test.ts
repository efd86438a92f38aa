import { describe, expect, it } from 'vitest';
import {
  buildPolygonTester,
  createPolygonTester,
  polygonTesterSteps,
  WORK_SLICE,
} from '../../src/labels/polygon-index.js';
import { ringCrossings } from '../../src/labels/shapes.js';
import { createRng } from '../../src/patches/epoch.js';
import { combRing, ringOf } from '../support/fuzz-arbitraries.js';

/** The reference: plain pnpoly over every edge of every ring, even-odd. */
const brute = (rings: Float64Array[], x: number, y: number) =>
  rings.reduce((n, r) => n + ringCrossings(r, x, y), 0) % 2 === 1;
const flat = (ring: number[][]) => Float64Array.from(ring.flat());

/** Compares the tester with the reference on the given points; returns how many were inside. */
function agree(rings: Float64Array[], points: Array<[number, number]>): number {
  const inside = createPolygonTester(rings);
  let hits = 0;
  for (const [x, y] of points) {
    const want = brute(rings, x, y);
    if (inside(x, y) !== want) expect({ x, y, inside: !want }).toEqual({ x, y, inside: want });
    if (want) hits++;
  }
  return hits;
}

/** Random points, lattice points (exactly on integer vertices and edges), and points at vertex heights. */
function probes(
  rnd: () => number,
  rings: Float64Array[],
  box: [number, number, number, number],
  n: number,
): Array<[number, number]> {
  const [x0, y0, x1, y1] = box;
  const out: Array<[number, number]> = [];
  for (let k = 0; k < n; k++) out.push([x0 + rnd() * (x1 - x0), y0 + rnd() * (y1 - y0)]);
  for (let k = 0; k < n; k++)
    out.push([Math.round((x0 + rnd() * (x1 - x0)) * 2) / 2, Math.round((y0 + rnd() * (y1 - y0)) * 2) / 2]);
  for (let k = 0; k < n; k++) {
    const r = rings[Math.floor(rnd() * rings.length)]!;
    const v = Math.floor(rnd() * (r.length / 2));
    out.push([rnd() < 0.5 ? r[2 * v]! : x0 + rnd() * (x1 - x0), r[2 * v + 1]!]);
  }
  return out;
}

describe('createPolygonTester: even-odd, the same answers as plain pnpoly', () => {
  it('a table of simple cases: holes, edges, vertices, outside the y range', () => {
    const square = flat([
      [0, 0],
      [10, 0],
      [10, 10],
      [0, 10],
    ]);
    const hole = flat([
      [3, 3],
      [7, 3],
      [7, 7],
      [3, 7],
    ]);
    const inside = createPolygonTester([square, hole]);
    const table: Array<[number, number, boolean]> = [
      [1, 1, true],
      [5, 5, false],
      [11, 5, false],
      [0, 5, true],
      [10, 5, false],
      [5, 0, true],
      [5, 10, false],
      [3, 5, false],
      [7, 5, true],
      [-1, -1, false],
      [5, Number.NaN, false],
      [Number.NaN, 5, false],
      [-Infinity, 5, false],
    ];
    for (const [x, y, want] of table) {
      expect([x, y, inside(x, y)]).toEqual([x, y, want]);
      expect([x, y, brute([square, hole], x, y)]).toEqual([x, y, want]);
    }
    expect(createPolygonTester([])(0, 0)).toBe(false);
    expect(
      createPolygonTester([
        flat([
          [0, 0],
          [5, 0],
          [9, 0],
        ]),
      ])(1, 0),
    ).toBe(false);
  });

  it('agrees on random self-intersecting polygons on a coarse grid (ties everywhere)', () => {
    const rnd = createRng(11);
    let hits = 0;
    for (let trial = 0; trial < 200; trial++) {
      const rings = Array.from({ length: 1 + Math.floor(rnd() * 3) }, () => {
        const n = 3 + Math.floor(rnd() * (trial % 4 === 0 ? 300 : 20));
        return Float64Array.from({ length: 2 * n }, () => Math.floor(rnd() * 12));
      });
      hits += agree(rings, probes(rnd, rings, [-1, -1, 13, 13], 100));
    }
    expect(hits).toBeGreaterThan(5000);
  });

  it('agrees on combs, a star with a hole, many small rings and a rounded 99,999-vertex circle', () => {
    const rnd = createRng(5);
    const star: number[] = [];
    for (let k = 0; k < 400; k++) {
      const a = (k / 400) * 2 * Math.PI;
      const r = 500 + 300 * Math.sin(7 * a) + 50 * rnd();
      star.push(1000 + r * Math.cos(a), 1000 + r * Math.sin(a));
    }
    // [rings, probe box, probes of each kind]: the reference is slow on the large ones.
    const cases: Array<[Float64Array[], [number, number, number, number], number]> = [
      [[flat(combRing(2_001))], [490, 180, 2510, 2210], 3000],
      [[flat(combRing(5_000, 0, 0, 100, 50))], [-1, -12, 101, 51], 2000],
      [[flat(combRing(1_000, 0, 0, 3000, 7)), flat(combRing(999, 0.5, 1, 3000, 5))], [-1, -12, 3001, 8], 3000],
      [
        [
          Float64Array.from(star),
          flat([
            [900, 900],
            [1100, 900],
            [1100, 1100],
            [900, 1100],
          ]),
        ],
        [-100, -100, 2100, 2100],
        3000,
      ],
      [
        Array.from({ length: 300 }, (_, i) => flat(ringOf(7, (i % 20) * 10, Math.floor(i / 20) * 10, 6))),
        [-10, -10, 210, 160],
        3000,
      ],
      [[flat(ringOf(99_999))], [400, 100, 2600, 2300], 300],
    ];
    for (const [rings, box, n] of cases) expect(agree(rings, probes(rnd, rings, box, n))).toBeGreaterThan(n / 10);
  });

  it('agrees on huge and tiny coordinates (nodes the error bound does not cover are scanned)', () => {
    const rnd = createRng(3);
    const rings = [
      flat([
        [-1e308, -1e308],
        [1e308, -1e308],
        [1e308, 1e308],
        [-1e308, 1e308],
      ]),
      flat([
        [0, 0],
        [1e-310, 1e-300],
        [-5e-324, 2e-300],
      ]),
      flat([
        [1e200, 0],
        [-1e200, 1],
        [1e200, 2],
        [-1e200, 3],
      ]),
    ];
    const points: Array<[number, number]> = [
      [0, 0],
      [0, 1e-300],
      [5e-324, 5e-301],
      [0, 0.5],
      [1e199, 1.5],
      [-1e300, 2.5],
      [0, 1e307],
    ];
    for (let k = 0; k < 500; k++)
      points.push([
        (rnd() - 0.5) * 10 ** Math.floor(rnd() * 600 - 300),
        (rnd() - 0.5) * 10 ** Math.floor(rnd() * 600 - 300),
      ]);
    agree(rings, points);
  });
});

describe('building the index: bounded work, in slices', () => {
  it('indexes a 99,990-vertex comb in a bounded number of slices (every edge spans the full height)', () => {
    const steps = polygonTesterSteps([flat(combRing(99_990))]);
    let slices = 0;
    let r = steps.next();
    while (!r.done) {
      slices++;
      r = steps.next();
    }
    // ~100,000 edges in one node: two passes over the edges, a sort (17 passes) and an order
    // check, ~120 units an edge by the build's own count; edges x 4,096 bands would be ~3,400 per edge.
    expect(slices).toBeGreaterThan(100);
    expect(slices).toBeLessThan((150 * 100_000) / WORK_SLICE);
    expect(r.value(1500, 1200)).toBe(brute([flat(combRing(99_990))], 1500, 1200));
  });

  it('the async build runs its pause between slices and stops when the pause throws', async () => {
    let pauses = 0;
    const inside = await buildPolygonTester([flat(combRing(20_000))], async () => void pauses++);
    expect(pauses).toBeGreaterThan(3);
    expect(inside(500.05, 1000)).toBe(brute([flat(combRing(20_000))], 500.05, 1000));
    await expect(
      buildPolygonTester([flat(combRing(20_000))], async () => Promise.reject(new Error('deadline'))),
    ).rejects.toThrow('deadline');
  });
});
