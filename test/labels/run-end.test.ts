/**
 * runEnd, the run scanner under label histograms (and so under /grid and /samples' fractions):
 * four pixels a step over aligned bytes, the same ends as a byte-by-byte loop everywhere.
 */
import { describe, expect, it } from 'vitest';
import { runEnd } from '../../src/labels/reader.js';
import { seededRandom } from '../support/core-fixtures.js';

function byteRunEnd(t: Uint8Array, i: number, end: number): number {
  let j = i + 1;
  while (j < end && t[j] === t[i]) j++;
  return j;
}

/** Label-like bytes: runs of random lengths (1 to 300) of a few values, 255 included. */
function runs(n: number, seed: number): Uint8Array {
  const rnd = seededRandom(seed);
  const out = new Uint8Array(n);
  for (let i = 0; i < n;) {
    const len = 1 + Math.floor(rnd() ** 3 * 300);
    out.fill([0, 1, 7, 255][Math.floor(rnd() * 4)]!, i, i + len);
    i += len;
  }
  return out;
}

describe('runEnd', () => {
  it.each([
    ['a run to the end', [3, 3, 3, 3, 3, 3, 3, 3, 3], 0, 9, 9],
    ['a run stopped by `end` inside a word', [3, 3, 3, 3, 3, 3, 3, 3, 3], 0, 6, 6],
    ['a run ending mid-word', [5, 5, 5, 5, 5, 5, 2, 2], 0, 8, 6],
    ['a run ending on a word boundary', [5, 5, 5, 5, 2, 2, 2, 2], 0, 8, 4],
    ['from an unaligned start', [1, 9, 9, 9, 9, 9, 9, 9, 9, 1], 1, 10, 9],
    ['one pixel', [4, 6, 6, 6], 0, 4, 1],
    ['255 (the pattern 0xffffffff)', [255, 255, 255, 255, 255, 255, 255, 255, 0], 0, 9, 8],
  ])('%s', (_what, bytes, i, end, want) => {
    const t = new Uint8Array(16);
    t.set(bytes);
    const words = new Uint32Array(t.buffer, 0, 4);
    expect(runEnd(t, words, i, end)).toBe(want);
    expect(runEnd(t, null, i, end)).toBe(want);
  });

  it('equals the byte loop on random runs, for every start, with and without words', () => {
    const t = runs(4096, 5);
    const words = new Uint32Array(t.buffer, t.byteOffset, t.length >> 2);
    const rnd = seededRandom(9);
    for (let k = 0; k < 3000; k++) {
      const i = Math.floor(rnd() * 4000);
      const end = i + 1 + Math.floor(rnd() * (4096 - i - 1));
      const want = byteRunEnd(t, i, end);
      expect(runEnd(t, words, i, end)).toBe(want);
      expect(runEnd(t, null, i, end)).toBe(want);
    }
  });
});
