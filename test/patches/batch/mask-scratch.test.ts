/**
 * A batch's masks read into reused buffers (LabelScratch): the same values and PNG bytes as masks
 * read into fresh arrays, whatever the buffers held before, at every scale and over slide edges.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLabelScratch } from '../../../src/masks/resample.js';
import { encodeMaskRegion, maskRegion, type RegionRequest } from '../../../src/patches/region.js';
import { labelRaster } from '../../../src/labels/slide-raster.js';
import { serveDemo, type Served } from '../../support/app-fixture.js';

let s: Served;
beforeAll(async () => {
  s = await serveDemo();
}, 120_000);
afterAll(() => s.cleanup());

/** A deterministic pseudo-random generator (xorshift32). */
function rng(seed: number): () => number {
  let v = seed >>> 0 || 1;
  return () => {
    v ^= v << 13;
    v ^= v >>> 17;
    v ^= v << 5;
    return (v >>> 0) / 2 ** 32;
  };
}

describe('masks into reused buffers', () => {
  it('give the values and PNG bytes of fresh masks, for random rectangles, sizes and mpp', () => {
    const g = s.generation();
    const slide = g.slide('tumor_001');
    expect(labelRaster(slide)).toBeTruthy();
    const scratch = createLabelScratch();
    const next = rng(7);
    let labelled = 0;
    for (let i = 0; i < 60; i++) {
      const size = [17, 64, 256, 100][i % 4]!;
      const mpp = [0.25, 1, 4, 2.5][(i >> 2) % 4]!;
      const span = (size * mpp) / slide.mpp_x!;
      // Some rectangles hang over an edge (padded with label 0).
      const r: RegionRequest = {
        x: Math.floor(next() * slide.width - span / 2),
        y: Math.floor(next() * slide.height - span / 2),
        width: size,
        height: size,
        level: null,
        mpp,
      };
      const fresh = maskRegion(g, slide, r);
      const reused = maskRegion(g, slide, r, scratch);
      expect(Buffer.from(reused).equals(Buffer.from(fresh))).toBe(true);
      expect(encodeMaskRegion(reused, r, 'png').equals(encodeMaskRegion(fresh, r, 'png'))).toBe(true);
      if (fresh.some((v) => v !== 0)) labelled++;
      // Dirty the buffers: the next mask must not see what this one left.
      scratch.take(0, 300 * 300).fill(9);
      scratch.take(1, 300 * 300).fill(7);
    }
    // Not a run of empty masks only.
    expect(labelled).toBeGreaterThan(5);
  });

  it('a slide without labels gives zeros from a dirty scratch', () => {
    const g = s.generation();
    // The demo's slides all have labels: the same slide as if it had none.
    const bare = { ...g.slide('tumor_001'), label_downsample: null };
    expect(labelRaster(bare)).toBeNull();
    const scratch = createLabelScratch();
    scratch.take(1, 64 * 64).fill(5);
    const r: RegionRequest = { x: 0, y: 0, width: 64, height: 64, level: 0, mpp: null };
    expect(maskRegion(g, bare, r, scratch).every((v) => v === 0)).toBe(true);
  });

  it('keeps no buffer larger than its bound, and hands out views of the kept ones', () => {
    const scratch = createLabelScratch(1000);
    const a = scratch.take(0, 800);
    expect(scratch.take(0, 500).buffer).toBe(a.buffer);
    expect(scratch.take(0, 2000).buffer).not.toBe(scratch.take(0, 2000).buffer);
  });
});
