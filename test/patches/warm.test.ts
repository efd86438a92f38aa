/**
 * The sampler's background warm-up loads buckets and uniform-tile grids in bulk; it must change
 * nothing that is drawn: the same descriptors with and without it, for whole slides, regions,
 * exclusions and every balance.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGeneration } from '../../src/generation.js';
import { openIndexReadOnly } from '../../src/db/open.js';
import { createSampler } from '../../src/patches/sampler.js';
import { parseSampleRequest } from '../../src/patches/spec.js';
import { serveCore, type Served } from '../support/app-fixture.js';

let s: Served;
beforeAll(async () => {
  s = await serveCore();
});
afterAll(() => s.cleanup());

/** A generation of its own (its own label reader and caches), as a fresh process would have. */
function freshGeneration() {
  return createGeneration(openIndexReadOnly(s.indexPath), s.dataDir, 64 << 20);
}

describe('sampler warm-up', () => {
  it.each([
    { classes: ['metastasis', 'adipose'], balance: 'classes', size: 128, count: 300, seed: 3 },
    {
      classes: ['connective-tissue'],
      size: 256,
      count: 200,
      seed: 4,
      exclude: { categories: ['artefact'], maxFraction: 0 },
    },
    {
      classes: ['connective-tissue', 'metastasis'],
      balance: 'classes-per-slide',
      size: 64,
      count: 200,
      seed: 5,
      region: { rect: { x: 500, y: 400, width: 1800, height: 1500 } },
    },
    { classes: ['adipose'], balance: 'slides', size: 96, level: 1, count: 100, seed: 6, criterion: 'center' },
  ])('draws the same descriptors warm as cold: %j', async (body) => {
    const cold = freshGeneration();
    const warm = freshGeneration();
    try {
      const a = createSampler(cold);
      const b = createSampler(warm);
      await b.warm();
      const specA = parseSampleRequest(body, cold, 1000);
      const specB = parseSampleRequest(body, warm, 1000);
      const da = await a.sample(specA.spec, specA.slides);
      const db = await b.sample(specB.spec, specB.slides);
      expect(da.length).toBe(body.count);
      expect(db).toEqual(da);
    } finally {
      cold.db.close();
      warm.db.close();
    }
  });

  it('gives way while a request holds it back, and goes on once released', async () => {
    const g = freshGeneration();
    try {
      const s = createSampler(g);
      const release = s.hold();
      let finished = false;
      const w = s.warm().then(() => {
        finished = true;
      });
      await new Promise((r) => setTimeout(r, 150));
      expect(finished).toBe(false);
      release();
      release(); // a second release (close after finish) changes nothing
      await w;
      expect(finished).toBe(true);
    } finally {
      g.db.close();
    }
  });

  it('stops quietly when its index is closed mid-way', async () => {
    const g = freshGeneration();
    const w = createSampler(g).warm();
    g.db.close();
    await expect(w).resolves.toBeUndefined();
  });
});
