/**
 * Label resampling (nearest, values copied): an exact table, and the row-copying resampler (and its
 * stretch-by-stretch copies when the output is about as fine as the raster) against the plain
 * per-pixel rule on random rasters with and without repeated rows.
 */
import { describe, expect, it } from 'vitest';
import type { RasterGeometry } from '../../src/labels/raster.js';
import { labelResampling, resampleLabels, type LabelResampling } from '../../src/masks/resample.js';

const geometry = (downsample: number): RasterGeometry =>
  ({ slideId: 's', etag: 'e', downsample, width: 1000, height: 1000, tileSize: 256, levels: 4 }) as RasterGeometry;

/** The definition: each output pixel takes the region value under its centre. */
function reference(region: Uint8Array, s: LabelResampling): Uint8Array {
  const out = new Uint8Array(s.cols.length * s.rows.length);
  for (let j = 0; j < s.rows.length; j++)
    for (let i = 0; i < s.cols.length; i++) out[j * s.cols.length + i] = region[s.rows[j]! * s.width + s.cols[i]!]!;
  return out;
}

/** A small deterministic generator (xorshift32). */
function random(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 2 ** 32;
  };
}

describe('resampleLabels', () => {
  it('a 4 x 3 output over a 2 x 2 region: each pixel the value under its centre (table)', () => {
    // Raster downsample 2: output pixels of 1 level-0 px from (0, 0), so two per raster pixel.
    const s = labelResampling(geometry(2), 0, 0, 1, 4, 3);
    expect({ level: s.level, x: s.x, y: s.y, width: s.width, height: s.height }).toEqual({
      level: 0,
      x: 0,
      y: 0,
      width: 2,
      height: 2,
    });
    expect([...s.cols]).toEqual([0, 0, 1, 1]);
    expect([...s.rows]).toEqual([0, 0, 1]);
    const out = resampleLabels(Uint8Array.from([1, 2, 3, 4]), s);
    expect([...out]).toEqual([1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4]);
  });

  it.each([
    ['finer than the raster (rows repeat)', 2, 1.03],
    ['about the raster pixel', 4, 4.115],
    ['coarser than the raster', 4, 16.46],
  ])('%s: the same values as the per-pixel rule on random rasters', (_what, downsample, l0PerPixel) => {
    const next = random(downsample * 1000 + Math.round(l0PerPixel * 100));
    for (let trial = 0; trial < 20; trial++) {
      const size = 1 + Math.floor(next() * 300);
      const s = labelResampling(
        geometry(downsample),
        Math.floor(next() * 500),
        Math.floor(next() * 500),
        l0PerPixel,
        size,
        size,
      );
      const region = new Uint8Array(s.width * s.height);
      // Half the trials: blocks of identical rows (label-like); the others: every pixel random.
      const blocky = trial % 2 === 0;
      for (let y = 0; y < s.height; y++) {
        const copyPrevious = blocky && y > 0 && next() < 0.7;
        for (let x = 0; x < s.width; x++)
          region[y * s.width + x] = copyPrevious ? region[(y - 1) * s.width + x]! : Math.floor(next() * 4);
      }
      expect(Buffer.from(resampleLabels(region, s)).equals(Buffer.from(reference(region, s)))).toBe(true);
      // Into a reused buffer that holds other values: every output value is written.
      const dirty = new Uint8Array(size * size + 7).fill(9);
      expect(Buffer.from(resampleLabels(region, s, dirty)).equals(Buffer.from(reference(region, s)))).toBe(true);
    }
  });
});
