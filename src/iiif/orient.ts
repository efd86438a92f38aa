/**
 * Mirroring and rotation by multiples of 90 degrees of raw pixels (pure). IIIF mirrors first
 * (about the vertical axis), then rotates clockwise. Done here rather than in libvips because
 * label values must move exactly and the order of sharp's flop and rotate is its own.
 */
import type { Rotation } from './params.js';

export interface Pixels {
  data: Uint8Array;
  width: number;
  height: number;
  channels: number;
}

export function orient(p: Pixels, r: Rotation): Pixels {
  if (!r.mirror && r.degrees === 0) return p;
  const { width: w, height: h, channels: c } = p;
  const swap = r.degrees === 90 || r.degrees === 270;
  const ow = swap ? h : w;
  const oh = swap ? w : h;
  const out = new Uint8Array(p.data.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const mx = r.mirror ? w - 1 - x : x;
      // Clockwise: (x, y) goes to (h-1-y, x) at 90, (w-1-x, h-1-y) at 180, (y, w-1-x) at 270.
      const ox = r.degrees === 0 ? mx : r.degrees === 90 ? h - 1 - y : r.degrees === 180 ? w - 1 - mx : y;
      const oy = r.degrees === 0 ? y : r.degrees === 90 ? mx : r.degrees === 180 ? h - 1 - y : w - 1 - mx;
      const from = (y * w + x) * c;
      const to = (oy * ow + ox) * c;
      for (let k = 0; k < c; k++) out[to + k] = p.data[from + k]!;
    }
  }
  return { data: out, width: ow, height: oh, channels: c };
}
