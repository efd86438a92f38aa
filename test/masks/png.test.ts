/**
 * Grey mask PNGs: what they decode to, and uniform masks (kept by value and size) encoded to the
 * same bytes as the encoder gives them.
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { encodeGreyPng, encodeGreyPngNow } from '../../src/masks/png.js';

const decode = async (png: Buffer) => {
  const { data, info } = await sharp(png).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: info.width, height: info.height, channels: info.channels };
};

describe('encodeGreyPng', () => {
  it('decodes to the values, for varied and uniform masks', async () => {
    const varied = Uint8Array.from({ length: 7 * 5 }, (_, i) => (i * 37) % 256);
    for (const values of [varied, new Uint8Array(35).fill(3), new Uint8Array(35)]) {
      const out = await decode(encodeGreyPng(values, 7, 5));
      expect(out).toEqual({ data: values, width: 7, height: 5, channels: 1 });
    }
  });

  it('a uniform mask: the same bytes as the encoder, kept per value and size', () => {
    for (const [v, w, h] of [
      [0, 256, 256],
      [3, 256, 256],
      [3, 64, 32],
      [255, 1, 2],
    ] as const) {
      const values = new Uint8Array(w * h).fill(v);
      const first = encodeGreyPng(values, w, h);
      expect(first.equals(encodeGreyPngNow(values, w, h))).toBe(true);
      expect(encodeGreyPng(new Uint8Array(w * h).fill(v), w, h)).toBe(first);
    }
    // Same value, other size; same size, other value; one pixel off: not the kept PNG.
    const kept = encodeGreyPng(new Uint8Array(256 * 256).fill(3), 256, 256);
    expect(encodeGreyPng(new Uint8Array(128 * 512).fill(3), 128, 512).equals(kept)).toBe(false);
    expect(encodeGreyPng(new Uint8Array(256 * 256).fill(4), 256, 256).equals(kept)).toBe(false);
    const off = new Uint8Array(256 * 256).fill(3);
    off[256 * 256 - 1] = 2;
    expect(encodeGreyPng(off, 256, 256).equals(encodeGreyPngNow(off, 256, 256))).toBe(true);
    expect(encodeGreyPng(off, 256, 256).equals(kept)).toBe(false);
  });
});
