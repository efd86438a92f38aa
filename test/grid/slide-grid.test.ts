/**
 * The grid's row-at-a-time counting (RasterBands, SlideGrid) and its CSV text against the sampler's
 * own per-cell descriptorFractions on real indexed demo slides, cell by cell, bit for bit: abutting,
 * overlapping and sparse cells, an mpp, windows off the raster, and rows longer than a block.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SlideRow } from '../../src/catalogue/repo.js';
import type { Generation } from '../../src/generation.js';
import { BLOCK_CELLS, rasterWindow } from '../../src/grid/bands.js';
import { majorityOf, type Rect } from '../../src/grid/cells.js';
import { csvField, csvLines, csvNames, FractionText } from '../../src/grid/csv.js';
import { SlideGrid } from '../../src/grid/slide-grid.js';
import { cellScale, hasGrid, type GridParams } from '../../src/grid/table.js';
import { descriptorFractions } from '../../src/patches/sampler.js';
import { isTissueValue, TISSUE_VALUE, UNLABELLED_TISSUE_VALUE } from '../../src/tissue/selectors.js';
import { serveDemo, type Served } from '../support/app-fixture.js';

let s: Served;
let g: Generation;
let slides: SlideRow[];
beforeAll(async () => {
  s = await serveDemo();
  g = s.generation();
  slides = g.catalogue
    .listSlides({ classValues: null, status: 'ok', limit: 1000, offset: 0 })
    .rows.filter((r) => hasGrid(g, r));
}, 120_000);
afterAll(() => s.cleanup());

/** The sampler's per-cell row: [x, y, ...class fractions, labelled, tissue, unlabelled-tissue, majority]. */
type Value = number | string | null;

function expectedRow(slide: SlideRow, x: number, y: number, sizeL0: number): Value[] {
  const tissue = g.tissue.raster(slide) !== null;
  const f = descriptorFractions(g, { tissue }, slide, x, y, sizeL0);
  const m = majorityOf(new Map([...f].filter(([v]) => !isTissueValue(v))), 0);
  return [
    x,
    y,
    ...g.taxonomy.map((c) => f.get(c.value) ?? 0),
    1 - (f.get(0) ?? 0),
    tissue ? f.get(TISSUE_VALUE)! : null,
    tissue ? f.get(UNLABELLED_TISSUE_VALUE)! : null,
    m === null ? '' : g.taxonomy.find((c) => c.value === m)!.name,
  ];
}

function compare(slide: SlideRow, p: GridParams): number {
  const scale = cellScale(g, slide, p);
  if (!('sizeL0' in scale)) throw scale;
  const grid = new SlideGrid(g, slide, p.rect, scale.sizeL0, scale.strideL0);
  const text = new FractionText();
  const names = csvNames(g, grid);
  let cells = 0;
  const bad: string[] = [];
  for (const j of grid.blocks()) {
    const lines = csvLines(g, grid, j, text, names).split('\n');
    for (let c = grid.c0; c < grid.c1; c++) {
      const want = expectedRow(slide, grid.xs[c]!, grid.ys[j]!, scale.sizeL0);
      const m = grid.majority(c);
      const got = [
        grid.xs[c]!,
        grid.ys[j]!,
        ...g.taxonomy.map((k) => grid.fraction(c, k.value)),
        1 - grid.fraction(c, 0),
        grid.tissueFraction(c),
        grid.unlabelledTissueFraction(c),
        m === null ? '' : g.taxonomy.find((k) => k.value === m)!.name,
      ];
      // Object.is per value: even 0 and -0, or the last bit of a double, differ.
      want.forEach((v, i) => {
        if (!Object.is(got[i], v)) bad.push(`${slide.id} (${want[0]}, ${want[1]}) column ${i}: ${got[i]} != ${v}`);
      });
      const line = [slide.id, want[0], want[1], scale.sizeL0, ...want.slice(2)].map((v) => csvField(v ?? null));
      if (lines[c - grid.c0] !== line.join(','))
        bad.push(`${slide.id} CSV: ${lines[c - grid.c0]} != ${line.join(',')}`);
      cells++;
    }
  }
  expect(bad.slice(0, 5)).toEqual([]);
  return cells;
}

describe('SlideGrid equals descriptorFractions cell by cell', () => {
  it.each<[string, Partial<GridParams>]>([
    ['abutting cells, level 0', { level: 0, size: 64, stride: 64 }],
    ['overlapping cells, odd sizes', { level: 0, size: 50, stride: 29 }],
    ['sparse cells', { level: 0, size: 24, stride: 100 }],
    ['an mpp (fractional level-0 size)', { level: null, mpp: 0.5, size: 32, stride: 32 }],
    ['cells smaller than a raster pixel', { level: 0, size: 2, stride: 37 }],
  ])('%s', (_name, q) => {
    const p: GridParams = { size: 64, stride: 64, level: 0, mpp: null, rect: null, ...q };
    let cells = 0;
    for (const slide of slides) if (!(cellScale(g, slide, p) instanceof Error)) cells += compare(slide, p);
    expect(cells).toBeGreaterThan(200);
  });

  it('a row longer than a block of cells', () => {
    const slide = slides.find((r) => r.width > BLOCK_CELLS + 100)!;
    const rect: Rect = { x: 3, y: Math.floor(slide.height / 2), width: BLOCK_CELLS + 60, height: 12 };
    const cells = compare(slide, { size: 8, stride: 1, level: 0, mpp: null, rect });
    expect(cells).toBe((BLOCK_CELLS + 60 - 8 + 1) * (12 - 8 + 1));
  });
});

describe('rasterWindow (patchFractions windows)', () => {
  it.each([
    [0, 64, 4, 0, 16],
    [2, 64, 4, 0, 16], // a centre on the edge is in
    [3, 64, 4, 1, 16],
    [526, 526.7489664, 4, 131, 132], // 0.5 um/px, 256 px on a 0.243 um/px slide
    [10, 1, 4, 2, 1], // no centre inside: still one pixel
    [0, 256, 32, 0, 8],
  ])('p=%d size=%d D=%d -> start %d, length %d', (p, size, D, start, length) => {
    expect(rasterWindow(p, size, D)).toEqual({ start, length });
  });
});
