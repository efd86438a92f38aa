import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  achievedShares,
  assignGroups,
  partTargets,
  seededOrder,
  strataTotals,
  stringHash,
  withinTolerance,
  type SplitGroup,
} from '../../src/splits/assign.js';

const TVT = partTargets({ ratios: { train: 0.7, val: 0.15, test: 0.15 } });

describe('partTargets', () => {
  it.each([
    [
      { ratios: { train: 0.8, val: 0.1, test: 0.1 } },
      [
        ['train', 0.8],
        ['val', 0.1],
        ['test', 0.1],
      ],
    ],
    [
      { folds: 2 },
      [
        ['fold0', 0.5],
        ['fold1', 0.5],
      ],
    ],
    [
      { folds: 4 },
      [
        ['fold0', 0.25],
        ['fold1', 0.25],
        ['fold2', 0.25],
        ['fold3', 0.25],
      ],
    ],
  ])('%j', (def, want) => {
    expect(partTargets(def).map((p) => [p.name, p.ratio])).toEqual(want);
  });
});

describe('stringHash and seededOrder', () => {
  it('FNV-1a of known strings', () => {
    expect(stringHash('')).toBe(0x811c9dc5);
    expect(stringHash('a')).toBe(0xe40c292c);
    expect(stringHash('foobar')).toBe(0xbf9cf968);
  });
  it('does not depend on the input order, and does on the seed', () => {
    const keys = ['tumor_001', 'tumor_002', 'normal_001', 'tumor_003', 'normal_002'];
    const a = seededOrder(keys, 7).map((i) => keys[i]);
    const rev = [...keys].reverse();
    expect(seededOrder(rev, 7).map((i) => rev[i])).toEqual(a);
    const seeds = new Set(
      [1, 2, 3, 4, 5, 6].map((s) =>
        seededOrder(keys, s)
          .map((i) => keys[i])
          .join(),
      ),
    );
    expect(seeds.size).toBeGreaterThan(1);
  });
});

describe('assignGroups without strata', () => {
  it('deals exact quotas in the seeded order', () => {
    const groups: SplitGroup[] = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'].map((key) => ({ key, areas: [] }));
    const out = assignGroups(groups, TVT, 1);
    const order = seededOrder(
      groups.map((g) => g.key),
      1,
    );
    // quotas(10, [.7, .15, .15]) = [7, 2, 1]: the first 7 of the seeded order are train, then 2 val, then 1 test.
    expect(order.map((i) => out[i])).toEqual([0, 0, 0, 0, 0, 0, 0, 1, 1, 2]);
  });
  it('k folds of 5 groups: sizes 2, 2, 1', () => {
    const groups: SplitGroup[] = ['a', 'b', 'c', 'd', 'e'].map((key) => ({ key, areas: [0] }));
    const out = assignGroups(groups, partTargets({ folds: 3 }), 9);
    expect([0, 1, 2].map((p) => out.filter((x) => x === p).length)).toEqual([2, 2, 1]);
  });
});

describe('assignGroups with strata: an exact case', () => {
  it('puts the one large tumour slide where the shares come closest', () => {
    // Two folds, four slides: areas 6, 2, 2, 0 of one class. Fold sizes are 2 and 2; the best
    // deal puts 6 with 0 and 2 with 2 (shares 0.75/0.25 are impossible to beat: 6+2 = 8 vs 2+0).
    const groups: SplitGroup[] = [
      { key: 's1', areas: [6] },
      { key: 's2', areas: [2] },
      { key: 's3', areas: [2] },
      { key: 's4', areas: [0] },
    ];
    const out = assignGroups(groups, partTargets({ folds: 2 }), 3);
    expect(out[0]).toBe(out[3]);
    expect(out[1]).toBe(out[2]);
    expect(out[0]).not.toBe(out[1]);
    const shares = achievedShares(groups, out, 2);
    expect(shares[out[0]!]![0]).toBe(0.6);
    expect(shares[out[1]!]![0]).toBe(0.4);
  });
});

const groupsArb = fc
  .array(fc.tuple(fc.double({ min: 0, max: 1000, noNaN: true }), fc.double({ min: 0, max: 1000, noNaN: true })), {
    minLength: 3,
    maxLength: 80,
  })
  .map((rows) => rows.map(([a, b], i): SplitGroup => ({ key: `slide_${String(i).padStart(3, '0')}`, areas: [a, b] })));

describe('assignGroups: properties', () => {
  it('every group in exactly one part; part sizes follow the ratios exactly; input order irrelevant', () => {
    fc.assert(
      fc.property(groupsArb, fc.integer({ min: 0, max: 2 ** 32 - 1 }), (groups, seed) => {
        const out = assignGroups(groups, TVT, seed);
        expect(out.every((p) => p >= 0 && p < 3)).toBe(true);
        const sizes = [0, 1, 2].map((p) => out.filter((x) => x === p).length);
        expect(sizes.reduce((a, b) => a + b, 0)).toBe(groups.length);
        const exact = [0.7, 0.15, 0.15].map((r) => r * groups.length);
        sizes.forEach((n, i) => expect(Math.abs(n - exact[i]!)).toBeLessThan(1));
        const rev = [...groups].reverse();
        const outRev = assignGroups(rev, TVT, seed);
        const byKey = new Map(rev.map((g, i) => [g.key, outRev[i]]));
        groups.forEach((g, i) => expect(byKey.get(g.key)).toBe(out[i]));
      }),
      { numRuns: 60 },
    );
  });

  it('with enough comparable groups, every share is within 15% of its target', () => {
    // 60-120 slides whose areas vary up to 10x (no slide holds most of a class): the data allows it.
    const many = fc
      .array(fc.tuple(fc.double({ min: 10, max: 100, noNaN: true }), fc.double({ min: 10, max: 100, noNaN: true })), {
        minLength: 60,
        maxLength: 120,
      })
      .map((rows) => rows.map(([a, b], i): SplitGroup => ({ key: `s${i}`, areas: [a, b] })));
    fc.assert(
      fc.property(
        many,
        fc.integer({ min: 0, max: 1000 }),
        fc.constantFrom(TVT, partTargets({ folds: 5 })),
        (groups, seed, parts) => {
          const out = assignGroups(groups, parts, seed);
          const shares = achievedShares(groups, out, parts.length);
          expect(withinTolerance(shares, parts, strataTotals(groups))).toBe(true);
        },
      ),
      { numRuns: 30 },
    );
  });
});
