/**
 * One slide's grid, a row of cells at a time: the label and tissue rasters counted under the whole
 * row (RasterBands), then each cell's values with patchFractions' and descriptorFractions'
 * arithmetic (a count over the window's pixels, in doubles; tissue as the sum of its two values'
 * fractions), so they equal /samples' fractions bit for bit (test/grid/slide-grid.test.ts).
 */
import type { SlideRow } from '../catalogue/repo.js';
import type { Generation } from '../generation.js';
import { labelRaster } from '../labels/slide-raster.js';
import { TISSUE_LABELLED, TISSUE_UNLABELLED } from '../tissue/selectors.js';
import { BLOCK_CELLS, RasterBands } from './bands.js';
import { gridCells, type Rect } from './cells.js';

export class SlideGrid {
  readonly xs: number[];
  readonly ys: number[];
  readonly labels: RasterBands | null;
  readonly tissue: RasterBands | null;

  constructor(
    g: Generation,
    readonly slide: SlideRow,
    rect: Rect | null,
    readonly sizeL0: number,
    strideL0: number,
  ) {
    ({ xs: this.xs, ys: this.ys } = gridCells(slide, rect, sizeL0, strideL0));
    const lr = labelRaster(slide);
    const tr = g.tissue.raster(slide);
    const cells = this.ys.length > 0 ? this.xs : [];
    this.labels = lr ? new RasterBands(g.labels, lr, cells, sizeL0) : null;
    this.tissue = tr ? new RasterBands(g.tissue.reader, tr, cells, sizeL0) : null;
  }

  /** The cells the last load counted: [c0, c1) of a grid row. */
  c0 = 0;
  c1 = 0;

  /** Counts cells [c0, c1) (at most BLOCK_CELLS) of grid row j; the cell accessors below then describe them. */
  load(j: number, c0: number, c1: number): void {
    this.c0 = c0;
    this.c1 = c1;
    this.labels?.count(this.ys[j]!, c0, c1);
    this.tissue?.count(this.ys[j]!, c0, c1);
  }

  /** Loads every block of cells, row by row, left to right, yielding its row's index. */
  *blocks(): Generator<number> {
    for (let j = 0; j < this.ys.length; j++) {
      for (let c0 = 0; c0 < this.xs.length; c0 += BLOCK_CELLS) {
        this.load(j, c0, Math.min(this.xs.length, c0 + BLOCK_CELLS));
        yield j;
      }
    }
  }

  /** Raster pixels of cell c's label window (0 on a slide without labels). */
  labelArea(c: number): number {
    return this.labels ? this.labels.w[c]! * this.labels.h : 0;
  }

  /** Pixels of class value v in cell c's window (on a slide without labels: everything is unlabelled, 0). */
  classCount(c: number, v: number): number {
    return this.labels ? this.labels.n(c, v) : 0;
  }

  /** Fraction of class value v in cell c: a slide without labels is all unlabelled (value 0). */
  fraction(c: number, v: number): number {
    if (!this.labels) return v === 0 ? 1 : 0;
    const n = this.labels.n(c, v);
    return n > 0 ? n / this.labelArea(c) : 0;
  }

  /** The class with more than half of cell c other than unlabelled (0), or null. */
  majority(c: number): number | null {
    if (!this.labels) return null;
    const area = this.labelArea(c);
    // At most one value can pass: counts are whole pixels summing to at most the area.
    for (const v of this.labels.seen(c)) if (v !== 0 && this.labels.n(c, v) / area > 0.5) return v;
    return null;
  }

  /** Tissue raster pixels of cell c's window (0 without tissue). */
  tissueArea(c: number): number {
    return this.tissue ? this.tissue.w[c]! * this.tissue.h : 0;
  }

  /** [labelled-or-not tissue pixels, unlabelled tissue pixels] of cell c's tissue window. */
  tissueCounts(c: number): [number, number] {
    return this.tissue ? [this.tissue.n(c, TISSUE_LABELLED), this.tissue.n(c, TISSUE_UNLABELLED)] : [0, 0];
  }

  /** Detected tissue's share of cell c, or null on a slide indexed before tissue detection. */
  tissueFraction(c: number): number | null {
    if (!this.tissue) return null;
    const [labelled, unlabelled] = this.tissueCounts(c);
    return tissueSum(unlabelled, labelled, this.tissueArea(c));
  }

  /** The unlabelled part of the detected tissue's share of cell c, or null without tissue. */
  unlabelledTissueFraction(c: number): number | null {
    if (!this.tissue) return null;
    const n = this.tissue.n(c, TISSUE_UNLABELLED);
    return n > 0 ? n / this.tissueArea(c) : 0;
  }
}

/** descriptorFractions' tissue: the two values' fractions added (not their counts: the same double). */
export function tissueSum(unlabelled: number, labelled: number, area: number): number {
  return (unlabelled > 0 ? unlabelled / area : 0) + (labelled > 0 ? labelled / area : 0);
}
