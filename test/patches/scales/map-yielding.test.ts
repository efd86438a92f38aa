import { describe, expect, it } from 'vitest';
import { AppError } from '../../../src/errors.js';
import { mapYielding } from '../../../src/patches/scales/items.js';

/** Work that outlasts the 10 ms slice, so the mapper yields (and looks at its deadline) after it. */
const slow = (v: number) => {
  const until = Date.now() + 11;
  while (Date.now() < until);
  return v * 2;
};

describe('mapYielding', () => {
  it('maps in order, yielding between slices', async () => {
    expect(await mapYielding([1, 2, 3], slow, Infinity)).toEqual([2, 4, 6]);
    expect(await mapYielding([], slow, 0)).toEqual([]);
  });

  it('gives the sampler 503 once the deadline has passed at a yield', async () => {
    const e = await mapYielding([1, 2, 3], slow, 0).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(AppError);
    expect(e).toMatchObject({ status: 503, code: 'TIMEOUT', headers: { 'Retry-After': '5' } });
    expect((e as AppError).detail).toContain('(1 of 3 descriptors)');
  });
});
