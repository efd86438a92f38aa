/**
 * The native Lanczos-3 resampler (native/jpeg-region/src/resample.c), which resizes every region
 * read between stored levels (patches by mpp, tiles of levels between stored ones): within a few
 * grey levels of libvips' Lanczos-3 on real slide pixels, exact on flat areas, the same pixels
 * whether it runs in the decode job or on pixels libvips decoded, and bounded in the ratios it takes.
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeGrid, encodeGrid, nativeResamples, resampleRaw, type TileGrid } from '../../src/imaging/jpeg-native.js';
import type { RawImage } from '../../src/imaging/sharp.js';
import { realPath } from '../support/core-fixtures.js';
import { openLevel0 } from '../support/tile-grid.js';

async function lanczosByLibvips(img: RawImage, size: { width: number; height: number }): Promise<Buffer> {
  return sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
    .resize({ ...size, fit: 'fill', kernel: 'lanczos3' })
    .raw()
    .toBuffer();
}

function difference(a: Buffer, b: Buffer): { max: number; mean: number } {
  expect(a.length).toBe(b.length);
  let max = 0;
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    sum += d;
    if (d > max) max = d;
  }
  return { max, mean: sum / a.length };
}

const raw = { kind: 'raw' as const };

describe('native Lanczos-3 resampling', () => {
  // Up to 2x, libvips runs Lanczos-3 as this does: a grey level or two of rounding apart. Beyond 2x it
  // shrinks by a box filter first (its "gap"), and it upsamples with another kernel alignment: a few
  // levels apart on sharp edges of real tissue, the same on average.
  it.each([
    ['3% off a level (264 -> 256)', 264, 264, 256, 256, 2, 0.05],
    ['between two levels (x1.17)', 300, 300, 256, 256, 2, 0.05],
    ['by 2', 512, 512, 256, 256, 2, 0.05],
    ['unequal axes', 517, 263, 256, 250, 2, 0.05],
    ['x3 (libvips: box, then Lanczos)', 300, 210, 100, 70, 3, 0.2],
    ['a quarter (libvips: box, then Lanczos)', 1024, 1024, 256, 256, 12, 0.6],
    ['slightly up (255 -> 256)', 255, 255, 256, 256, 20, 0.2],
  ])('%s: close to libvips', async (_what, w, h, ow, oh, maxDiff, meanDiff) => {
    const src = openLevel0(realPath('CMU-1-Small-Region.svs'));
    try {
      const crop = { left: 301, top: 207, width: w, height: h };
      const img = (await src.render(0, crop, { width: w, height: h }, raw)) as RawImage;
      const ours = await resampleRaw(img, { width: ow, height: oh });
      expect([ours.width, ours.height, ours.channels]).toEqual([ow, oh, 3]);
      const d = difference(ours.data, await lanczosByLibvips(img, { width: ow, height: oh }));
      expect(d.max).toBeLessThanOrEqual(maxDiff);
      expect(d.mean).toBeLessThan(meanDiff);
      expect(d.max).toBeGreaterThan(0); // another implementation: not libvips' bytes passed through
    } finally {
      src.close();
    }
  });

  it('keeps a flat area exactly flat, down and up', async () => {
    const data = Buffer.alloc(97 * 61 * 3);
    for (let i = 0; i < data.length; i += 3) data.set([201, 17, 128], i);
    for (const size of [
      { width: 25, height: 16 },
      { width: 90, height: 60 },
      { width: 150, height: 100 },
    ]) {
      const out = await resampleRaw({ data, width: 97, height: 61, channels: 3 }, size);
      const want = Buffer.alloc(size.width * size.height * 3);
      for (let i = 0; i < want.length; i += 3) want.set([201, 17, 128], i);
      expect(out.data.equals(want)).toBe(true);
    }
  });
});

describe('native Lanczos-3 resampling: one path for both decoders, bounded ratios', () => {
  it('a region resized in the decode job equals the decoded region resized; its JPEG encodes those pixels', async () => {
    const src = openLevel0(realPath('CMU-1-Small-Region.svs'));
    try {
      const crop = { left: 100, top: 90, width: 370, height: 250 };
      const size = { width: 256, height: 173 };
      const whole = (await src.render(0, crop, crop, raw)) as RawImage;
      const separately = await resampleRaw(whole, size);
      const inJob = (await src.render(0, crop, size, raw)) as RawImage;
      expect(inJob.data.equals(separately.data)).toBe(true);
      const grid: TileGrid = {
        tiles: [{ rgb: whole.data }],
        across: 1,
        tileWidth: crop.width,
        tileHeight: crop.height,
      };
      const all = { left: 0, top: 0, width: crop.width, height: crop.height };
      const jpeg = await encodeGrid(grid, all, 90, size);
      const viaSharp = await sharp(separately.data, { raw: { ...size, channels: 3 } })
        .jpeg({ quality: 90 })
        .toBuffer();
      expect((await sharp(jpeg).raw().toBuffer()).equals(await sharp(viaSharp).raw().toBuffer())).toBe(true);
      expect((await decodeGrid(grid, all, size)).data.equals(separately.data)).toBe(true);
    } finally {
      src.close();
    }
  });

  it('the libvips decoder resamples as the native one: the same bytes', async () => {
    const native = openLevel0(realPath('CMU-1-Small-Region.svs'));
    const vips = openLevel0(realPath('CMU-1-Small-Region.svs'), { native: false });
    try {
      for (const [crop, size] of [
        [
          { left: 10, top: 20, width: 264, height: 264 },
          { width: 256, height: 256 },
        ],
        [
          { left: 500, top: 333, width: 612, height: 400 },
          { width: 200, height: 131 },
        ],
      ] as const) {
        const a = (await native.render(0, crop, size, raw)) as RawImage;
        const b = (await vips.render(0, crop, size, raw)) as RawImage;
        expect(a.data.equals(b.data)).toBe(true);
      }
    } finally {
      native.close();
      vips.close();
    }
  });

  it.each([
    [{ width: 40, height: 40 }, { width: 10, height: 10 }, true],
    [{ width: 41, height: 40 }, { width: 10, height: 10 }, false],
    [{ width: 100, height: 100 }, { width: 200, height: 200 }, true],
    [{ width: 100, height: 100 }, { width: 201, height: 100 }, false],
  ])('takes %j to %j: %s', async (from, to, ok) => {
    expect(nativeResamples(from, to)).toBe(ok);
    const img = { data: Buffer.alloc(from.width * from.height * 3, 90), ...from, channels: 3 };
    if (ok) expect((await resampleRaw(img, to)).data.every((v) => v === 90)).toBe(true);
    else await expect(resampleRaw(img, to)).rejects.toThrow(RangeError);
  });
});
