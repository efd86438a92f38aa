/**
 * The sampling mathematics (pure: no I/O).
 *
 * An epoch of `count` patches is planned before any pixel is looked at: every patch index i is
 * assigned a bucket (a slide x class pair) by exact quotas in a seeded permutation, and a stratum
 * of that bucket's labelled area (bucket mass split into equal parts, each used once per epoch).
 * Patch i then depends only on (seed, epoch, i) and the request that laid out the plan, `count`
 * included (quotas and permutations span the whole epoch: the first 200 of a count of 400 are
 * not the patches of a count of 200), so a shard computes its own patches without the others,
 * shards are disjoint, and together they cover the epoch.
 */
import { mulberry32 } from '../prng.js';

/** 32-bit hash of a list of integers (seed, epoch, index, attempt...): a stream id for the PRNG. */
export function hash32(...parts: number[]): number {
  let h = 0x811c9dc5;
  for (const p of parts) {
    let v = Math.floor(p) >>> 0;
    const hi = Math.floor(p / 2 ** 32) >>> 0;
    for (const word of [v, hi]) {
      v = word;
      for (let k = 0; k < 4; k++) {
        h ^= v & 0xff;
        h = Math.imul(h, 0x01000193);
        v >>>= 8;
      }
    }
  }
  return h >>> 0;
}

/** The sampler's stream for a seed (see src/prng.ts). */
export const createRng = mulberry32;

/** A seeded Fisher-Yates permutation of 0..n-1. */
export function permutation(n: number, seed: number): Int32Array {
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  const rnd = createRng(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    const t = p[i]!;
    p[i] = p[j]!;
    p[j] = t;
  }
  return p;
}

/**
 * Splits `count` into integer quotas proportional to `weights` (largest remainder, ties to the
 * lower index): the epoch's class frequencies are then exact, not just right on average.
 */
export function quotas(count: number, weights: readonly number[]): number[] {
  const total = weights.reduce((a, b) => a + b, 0);
  if (!(total > 0)) return weights.map(() => 0);
  const exact = weights.map((w) => (count * w) / total);
  const out = exact.map(Math.floor);
  let left = count - out.reduce((a, b) => a + b, 0);
  const order = exact.map((e, i) => [e - Math.floor(e), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (let k = 0; left > 0; k = (k + 1) % order.length, left--) out[order[k]![1]]!++;
  return out;
}

export interface EpochPlan {
  /** For patch index i: its bucket and its stratum within the bucket. */
  bucketOf: Int32Array;
  stratumOf: Int32Array;
  /** Patches per bucket (the number of strata the bucket is split into). */
  perBucket: number[];
}

/** Assigns the epoch's patches to buckets and strata. */
export function planEpoch(count: number, bucketWeights: readonly number[], seed: number, epoch: number): EpochPlan {
  const perBucket = quotas(count, bucketWeights);
  const slots = new Int32Array(count);
  let k = 0;
  perBucket.forEach((n, b) => {
    for (let j = 0; j < n; j++) slots[k++] = b;
  });
  const order = permutation(count, hash32(seed, epoch, 1));
  const bucketOf = new Int32Array(count);
  for (let i = 0; i < count; i++) bucketOf[i] = slots[order[i]!]!;
  const stratumPerms = perBucket.map((n, b) => permutation(n, hash32(seed, epoch, 2, b)));
  const seen = new Int32Array(perBucket.length);
  const stratumOf = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const b = bucketOf[i]!;
    stratumOf[i] = stratumPerms[b]![seen[b]!++]!;
  }
  return { bucketOf, stratumOf, perBucket };
}

/**
 * Indices of the epoch that shard `shard` of `shards` owns. The indices are cut into blocks of
 * `block` consecutive ones, dealt round-robin: shard s holds blocks s, s + shards, ... (block 1:
 * i = shard, shard + shards, ...). With block = a DataLoader's batch size, worker w's batches are
 * runs of consecutive indices and the loader's round-robin delivers the epoch in index order.
 */
export function shardIndices(count: number, shard: number, shards: number, block = 1): number[] {
  const out: number[] = [];
  for (let b0 = shard * block; b0 < count; b0 += shards * block) {
    for (let i = b0; i < Math.min(b0 + block, count); i++) out.push(i);
  }
  return out;
}

/** First index whose cumulative value exceeds `mass` (cum is non-decreasing, cum.at(-1) = total). */
export function searchCumulative(cum: Float64Array, mass: number): number {
  let lo = 0;
  let hi = cum.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cum[mid]! > mass) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Index of the k-th (0-based) pixel equal to `value`, or -1. */
export function kthOfValue(values: Uint8Array, value: number, k: number): number {
  let seen = 0;
  for (let i = 0; i < values.length; i++) {
    if (values[i] === value) {
      if (seen === k) return i;
      seen++;
    }
  }
  return -1;
}
