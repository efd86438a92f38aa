/**
 * A tiny float RGB canvas for drawing seamless texture tiles (a few hundred pixels square; the
 * slide itself is never held in JS). Everything wraps around the tile's edges, so repeating the
 * tile as an SVG pattern shows no seams.
 */
import type { Rng } from './random.js';

export type Rgb = [number, number, number];

export class Canvas {
  readonly data: Float32Array;

  constructor(
    readonly size: number,
    fill: Rgb,
  ) {
    this.data = new Float32Array(size * size * 3);
    for (let i = 0; i < size * size; i++) this.data.set(fill, i * 3);
  }

  /** Blends `colour` into pixel (x, y) (wrapped) with weight `a` in [0, 1]. */
  blend(x: number, y: number, colour: Rgb, a: number): void {
    const s = this.size;
    const i = ((((y % s) + s) % s) * s + (((x % s) + s) % s)) * 3;
    const d = this.data;
    d[i] = d[i]! + (colour[0] - d[i]!) * a;
    d[i + 1] = d[i + 1]! + (colour[1] - d[i + 1]!) * a;
    d[i + 2] = d[i + 2]! + (colour[2] - d[i + 2]!) * a;
  }

  /** Multiplies every pixel's channels by f(x, y) (shading, chromatin grain). */
  shade(f: (x: number, y: number) => number): void {
    const s = this.size;
    for (let y = 0; y < s; y++) {
      for (let x = 0; x < s; x++) {
        const k = f(x, y);
        const i = (y * s + x) * 3;
        this.data[i] = this.data[i]! * k;
        this.data[i + 1] = this.data[i + 1]! * k;
        this.data[i + 2] = this.data[i + 2]! * k;
      }
    }
  }

  /** A filled ellipse with soft edges (`soft` pixels), rotated by `angle`. */
  ellipse(
    cx: number,
    cy: number,
    rx: number,
    ry: number,
    angle: number,
    colour: Rgb,
    opacity: number,
    soft = 1.2,
  ): void {
    const r = Math.max(rx, ry) + soft;
    const cos = Math.cos(angle);
    const sin = Math.sin(angle);
    for (let y = Math.floor(cy - r); y <= Math.ceil(cy + r); y++) {
      for (let x = Math.floor(cx - r); x <= Math.ceil(cx + r); x++) {
        const dx = x + 0.5 - cx;
        const dy = y + 0.5 - cy;
        const u = (dx * cos + dy * sin) / rx;
        const v = (-dx * sin + dy * cos) / ry;
        // Distance outside the rim, in pixels (approximately).
        const out = (Math.sqrt(u * u + v * v) - 1) * Math.min(rx, ry);
        const a = Math.min(1, Math.max(0, 0.5 - out / soft));
        if (a > 0) this.blend(x, y, colour, a * opacity);
      }
    }
  }

  /** 8-bit RGB bytes for sharp. */
  toBytes(): Buffer {
    const out = Buffer.alloc(this.data.length);
    for (let i = 0; i < this.data.length; i++) out[i] = Math.min(255, Math.max(0, Math.round(this.data[i]!)));
    return out;
  }
}

/**
 * Smooth periodic value noise in [0, 1]: `cells` lattice cells across the tile, bicubic-ish
 * (smoothstep) interpolation, wrapping at the edges.
 */
export function periodicNoise(size: number, cells: number, rng: Rng): Float32Array {
  const lattice = Float32Array.from({ length: cells * cells }, () => rng.next());
  const out = new Float32Array(size * size);
  const at = (i: number, j: number): number => lattice[(j % cells) * cells + (i % cells)]!;
  const smooth = (t: number): number => t * t * (3 - 2 * t);
  for (let y = 0; y < size; y++) {
    const fy = (y / size) * cells;
    const j = Math.floor(fy);
    const ty = smooth(fy - j);
    for (let x = 0; x < size; x++) {
      const fx = (x / size) * cells;
      const i = Math.floor(fx);
      const tx = smooth(fx - i);
      const top = at(i, j) + (at(i + 1, j) - at(i, j)) * tx;
      const bottom = at(i, j + 1) + (at(i + 1, j + 1) - at(i, j + 1)) * tx;
      out[y * size + x] = top + (bottom - top) * ty;
    }
  }
  return out;
}

/** Mixes two colours: t = 0 gives a, 1 gives b. */
export function mix(a: Rgb, b: Rgb, t: number): Rgb {
  return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
}
