/** The tissue raster's labelled marking (pure parts of src/tissue/build.ts): exact against its rule. */
import { describe, expect, it } from 'vitest';
import { rasterGeometry } from '../../src/labels/raster.js';
import { markLabelled, tissueTiles, type TissueBuild } from '../../src/tissue/build.js';

/** Tissue everywhere (1) on a raster at `dt`, over a label raster at `labelDs` with a diagonal of labels. */
function setup(slide: number, dt: number, labelDs: number) {
  const geometry = rasterGeometry(slide, slide, dt);
  const t: TissueBuild = {
    geometry,
    mask: new Uint8Array(geometry.width * geometry.height).fill(1),
    threshold: 20,
    inkPx: 0,
  };
  const lw = Math.ceil(slide / labelDs);
  const lh = lw;
  const labels = new Uint8Array(lw * lh);
  for (let y = 0; y < lh; y++) for (let x = 0; x < lw; x++) labels[y * lw + x] = (x + 2 * y) % 5 === 0 ? 3 : 0;
  return { t, labels, lw, lh };
}

describe('markLabelled', () => {
  it.each([
    [97, 3, 2, 4],
    [97, 2, 3, 5],
    [64, 4, 4, 1],
    [50, 1.7, 4, 3],
  ])(
    'slide %i px, tissue at %f, labels at %f, bands of %i rows: the label pixel under each centre',
    (slide, dt, ds, band) => {
      const { t, labels, lw, lh } = setup(slide, dt, ds);
      for (let row = 0; row < lh; row += band) {
        const rows = Math.min(band, lh - row);
        markLabelled(t, ds, labels.subarray(row * lw, (row + rows) * lw), row, rows, lw);
      }
      const { width, height } = t.geometry;
      const want = new Uint8Array(width * height);
      for (let j = 0; j < height; j++) {
        for (let i = 0; i < width; i++) {
          const ly = Math.floor(((j + 0.5) * dt) / ds);
          const lx = Math.min(lw - 1, Math.floor(((i + 0.5) * dt) / ds));
          want[j * width + i] = ly < lh && labels[ly * lw + lx] !== 0 ? 2 : 1;
        }
      }
      expect(Array.from(t.mask)).toEqual(Array.from(want));
    },
  );
});

describe('tissueTiles', () => {
  it('counts tissue and unlabelled tissue, and emits only tiles holding tissue', () => {
    const geometry = rasterGeometry(600, 300, 1);
    const mask = new Uint8Array(600 * 300);
    mask.fill(1, 10 * 600 + 5, 10 * 600 + 25); // 20 unlabelled in tile (0, 0)
    mask.fill(2, 290 * 600 + 520, 290 * 600 + 530); // 10 labelled in tile (2, 1)
    const out = tissueTiles({ geometry, mask, threshold: 20, inkPx: 0 });
    expect([out.tissuePx, out.unlabelledPx]).toEqual([30, 20]);
    const base = out.tiles.filter((x) => x.level === 0).map((x) => `${x.tx},${x.ty}`);
    expect(base.sort()).toEqual(['0,0', '2,1']);
    expect(out.counts).toEqual([
      { value: 1, tx: 0, ty: 0, count: 20 },
      { value: 2, tx: 2, ty: 1, count: 10 },
    ]);
  });
});
