import { describe, expect, it } from 'vitest';
import {
  createRng,
  hash32,
  kthOfValue,
  permutation,
  planEpoch,
  quotas,
  searchCumulative,
  shardIndices,
} from '../../src/patches/epoch.js';

describe('quotas (largest remainder)', () => {
  it.each([
    [10, [1, 1], [5, 5]],
    [10, [1, 1, 1], [4, 3, 3]],
    [7, [3, 1], [5, 2]],
    [1, [1, 1, 1], [1, 0, 0]],
    [0, [1, 2], [0, 0]],
    [100, [0.2, 0.3, 0.5], [20, 30, 50]],
    [5, [0, 1], [0, 5]],
    [5, [0, 0], [0, 0]],
  ])('%i split by %j is %j', (count, weights, expected) => {
    expect(quotas(count, weights)).toEqual(expected);
    if ((weights as number[]).some((w) => w > 0)) expect(quotas(count, weights).reduce((a, b) => a + b, 0)).toBe(count);
  });
});

describe('seeded streams', () => {
  it('the PRNG is the same sequence for the same seed and differs between seeds', () => {
    const a = createRng(7);
    const b = createRng(7);
    const c = createRng(8);
    const xs = Array.from({ length: 5 }, a);
    expect(Array.from({ length: 5 }, b)).toEqual(xs);
    expect(Array.from({ length: 5 }, c)).not.toEqual(xs);
    for (const x of xs) expect(x >= 0 && x < 1).toBe(true);
  });
  it('hash32 separates its parts', () => {
    expect(hash32(1, 2, 3)).toBe(hash32(1, 2, 3));
    expect(new Set([hash32(1, 2), hash32(2, 1), hash32(1, 2, 0), hash32(12), hash32(2 ** 32 + 1)]).size).toBe(5);
  });
  it('permutation is a permutation, fixed by its seed', () => {
    const p = permutation(1000, 3);
    expect([...p].sort((a, b) => a - b)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect([...permutation(1000, 3)]).toEqual([...p]);
    expect([...permutation(1000, 4)]).not.toEqual([...p]);
  });
});

describe('planEpoch', () => {
  const plan = planEpoch(1000, [1, 2, 7], 42, 0);
  it('gives every bucket its exact quota', () => {
    const counts = [0, 0, 0];
    for (const b of plan.bucketOf) counts[b]!++;
    expect(counts).toEqual([100, 200, 700]);
    expect(plan.perBucket).toEqual([100, 200, 700]);
  });
  it('uses every stratum of every bucket exactly once (sampling without replacement)', () => {
    for (let b = 0; b < 3; b++) {
      const strata = [...plan.bucketOf.keys()]
        .filter((i) => plan.bucketOf[i] === b)
        .map((i) => plan.stratumOf[i]!)
        .sort((x, y) => x - y);
      expect(strata).toEqual(Array.from({ length: plan.perBucket[b]! }, (_, i) => i));
    }
  });
  it('is reproducible, and another epoch or seed reorders it', () => {
    const again = planEpoch(1000, [1, 2, 7], 42, 0);
    expect([...again.bucketOf]).toEqual([...plan.bucketOf]);
    expect([...again.stratumOf]).toEqual([...plan.stratumOf]);
    expect([...planEpoch(1000, [1, 2, 7], 42, 1).bucketOf]).not.toEqual([...plan.bucketOf]);
    expect([...planEpoch(1000, [1, 2, 7], 43, 0).bucketOf]).not.toEqual([...plan.bucketOf]);
  });
});

describe('shardIndices', () => {
  it('shards are disjoint and cover the epoch', () => {
    for (const [count, shards] of [
      [10, 3],
      [64, 8],
      [5, 7],
      [1, 1],
    ] as const) {
      const all = Array.from({ length: shards }, (_, k) => shardIndices(count, k, shards))
        .flat()
        .sort((a, b) => a - b);
      expect(all).toEqual(Array.from({ length: count }, (_, i) => i));
    }
    expect(shardIndices(10, 1, 3)).toEqual([1, 4, 7]);
  });
});

describe('small helpers', () => {
  it('searchCumulative finds the bucket of a mass', () => {
    const cum = Float64Array.from([2, 2, 5, 9]);
    expect([0, 1.99, 2, 4.5, 5, 8.99].map((m) => searchCumulative(cum, m))).toEqual([0, 0, 2, 2, 3, 3]);
  });
  it('kthOfValue counts only the value', () => {
    const v = Uint8Array.from([0, 3, 1, 3, 3, 0]);
    expect([0, 1, 2, 3].map((k) => kthOfValue(v, 3, k))).toEqual([1, 3, 4, -1]);
  });
});
