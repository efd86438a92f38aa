/**
 * The native Lanczos-3 resampler gives exactly the bytes of a plain model of its arithmetic
 * (test/support/lanczos-reference.ts): however its loops are arranged for speed (blocks of rows,
 * vector widths, edges), every size and ratio it takes keeps today's pixels, which the region and
 * batch byte-identity tests rely on.
 */
import { describe, expect, it } from 'vitest';
import { nativeJpegStatus, nativeResamples, resampleRaw } from '../../src/imaging/jpeg-native.js';
import { axisFilter, resampleReference } from '../support/lanczos-reference.js';
import { mulberry32 as random } from '../../src/prng.js';

/** Noise, with runs of 0 and 255 so both clamps and the filter's negative lobes are exercised. */
function image(width: number, height: number, next: () => number): Buffer {
  const data = Buffer.alloc(width * height * 3);
  for (let i = 0; i < data.length; i++) {
    const r = next();
    data[i] = r < 0.2 ? 0 : r < 0.4 ? 255 : Math.floor(next() * 256);
  }
  return data;
}

function firstDifference(a: Uint8Array, b: Uint8Array, width: number): string | null {
  for (let i = 0; i < a.length; i++)
    if (a[i] !== b[i]) return `x ${Math.floor(i / 3) % width}, y ${Math.floor(i / 3 / width)}: ${a[i]} != ${b[i]}`;
  return null;
}

type Case = [iw: number, ih: number, ow: number, oh: number];

const chosen: Case[] = [
  [263, 263, 256, 256], // a patch 3% off a stored level: the common case
  [264, 264, 256, 256],
  [512, 512, 256, 256],
  [1024, 1024, 256, 256],
  [1021, 517, 256, 130], // just under 4x, odd
  [300, 210, 100, 70],
  [255, 255, 256, 256], // slightly up
  [128, 100, 256, 200], // 2x up
  [263, 256, 256, 256], // one axis only
  [256, 263, 256, 256],
  [97, 61, 25, 16],
  [37, 41, 33, 29], // widths not a multiple of any vector width
  [129, 7, 127, 9],
  [1, 1, 2, 2], // one-pixel edges
  [4, 1, 1, 1],
  [1, 4, 1, 1],
  [1, 5, 2, 3],
  [2, 2, 1, 1],
  [3, 3, 6, 6],
  [7, 1, 3, 2],
  [16, 16, 15, 15],
  [17, 33, 16, 31],
];

/** Random sizes of 1..320 px and per-axis ratios from 2x up to 4x down, within the native bounds. */
function randomCases(count: number, next: () => number): Case[] {
  const cases: Case[] = [];
  const side = () => 1 + Math.floor(next() * 320);
  const to = (from: number) => Math.max(1, Math.min(from * 2, Math.round(from / (0.5 + next() * 3.5))));
  while (cases.length < count) {
    const iw = side();
    const ih = side();
    const ow = to(iw);
    const oh = to(ih);
    if ((iw !== ow || ih !== oh) && nativeResamples({ width: iw, height: ih }, { width: ow, height: oh }))
      cases.push([iw, ih, ow, oh]);
  }
  return cases;
}

describe.runIf(nativeJpegStatus().available)('native Lanczos-3 resampling: exactly the reference arithmetic', () => {
  it('the model makes the weights it should: each output sums to exactly 1 (2^14)', () => {
    for (const [n, m] of [
      [263, 256],
      [1024, 256],
      [1, 2],
      [4, 1],
      [100, 200],
    ] as const) {
      const f = axisFilter(n, m);
      for (let o = 0; o < m; o++) {
        let sum = 0;
        for (let k = 0; k < f.taps; k++) sum += f.weights[o * f.taps + k]!;
        expect(sum).toBe(1 << 14);
        expect(f.start[o]! + f.taps).toBeLessThanOrEqual(n);
      }
    }
    expect(axisFilter(263, 256).taps).toBe(7);
    expect(axisFilter(1024, 256).taps).toBe(24);
  });

  it.each(chosen)('%d x %d -> %d x %d', async (iw, ih, ow, oh) => {
    const next = random(iw * 7919 + ih * 104729 + ow * 31 + oh);
    const data = image(iw, ih, next);
    const ours = await resampleRaw({ data, width: iw, height: ih, channels: 3 }, { width: ow, height: oh });
    const want = resampleReference(data, iw, ih, ow, oh);
    expect(firstDifference(ours.data, want, ow)).toBeNull();
    expect(ours.data.equals(want)).toBe(true);
  });

  it('80 random sizes and ratios (1 to 320 px, 2x up to 4x down)', async () => {
    const next = random(20261203);
    for (const [iw, ih, ow, oh] of randomCases(80, next)) {
      const data = image(iw, ih, next);
      const ours = await resampleRaw({ data, width: iw, height: ih, channels: 3 }, { width: ow, height: oh });
      const diff = firstDifference(ours.data, resampleReference(data, iw, ih, ow, oh), ow);
      expect(diff, `${iw}x${ih} -> ${ow}x${oh}`).toBeNull();
    }
  });

  // Each pool thread keeps its last four filters; with one axis repeating and the other new each
  // time, looking up the second filter used to evict the first while it was in use (8 of these 40
  // went wrong before the fix). Widths step by 21 px modulo 29 sizes so no thread settles on a few.
  it('one axis repeating, the other changing: each call still uses its own two filters', async () => {
    const next = random(7);
    for (let i = 0; i < 40; i++) {
      const iw = 264 + ((i * 7) % 29) * 3;
      const data = image(iw, 263, next);
      const ours = await resampleRaw({ data, width: iw, height: 263, channels: 3 }, { width: 256, height: 256 });
      expect(firstDifference(ours.data, resampleReference(data, iw, 263, 256, 256), 256), `call ${i}`).toBeNull();
    }
  });
});
