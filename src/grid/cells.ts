/**
 * Grid geometry (pure: no I/O). A grid of square cells over a level-0 rectangle of a slide:
 * cells of side `sizeL0` every `strideL0` level-0 pixels from the rectangle's top-left, each
 * wholly inside the rectangle and the slide (a partial cell at the right or bottom edge is left
 * out, as a training patch would be). Corners are whole level-0 pixels (floored), the side as is,
 * exactly as /samples reports a patch (x, y, sizeL0).
 */
export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Level-0 positions of the cells along one axis: start + floor(k * stride) while the cell fits before `end`. */
export function cellStarts(start: number, end: number, sizeL0: number, strideL0: number): number[] {
  const out: number[] = [];
  // No tolerance: the sampler refuses a patch that overhangs the slide by any amount, so does the grid.
  for (let k = 0; ; k++) {
    const x = start + Math.floor(k * strideL0);
    if (x + sizeL0 > end) return out;
    out.push(x);
  }
}

/** The rectangle of the slide a grid covers: the request's, cut to the slide (null: empty). */
export function gridArea(slide: { width: number; height: number }, rect: Rect | null): Rect | null {
  const r = rect ?? { x: 0, y: 0, width: slide.width, height: slide.height };
  const x0 = Math.max(0, Math.floor(r.x));
  const y0 = Math.max(0, Math.floor(r.y));
  const x1 = Math.min(slide.width, r.x + r.width);
  const y1 = Math.min(slide.height, r.y + r.height);
  return x1 > x0 && y1 > y0 ? { x: x0, y: y0, width: x1 - x0, height: y1 - y0 } : null;
}

/** Cells of the grid, row by row (y, then x). */
export function gridCells(
  slide: { width: number; height: number },
  rect: Rect | null,
  sizeL0: number,
  strideL0: number,
): { xs: number[]; ys: number[] } {
  const a = gridArea(slide, rect);
  if (!a) return { xs: [], ys: [] };
  return {
    xs: cellStarts(a.x, a.x + a.width, sizeL0, strideL0),
    ys: cellStarts(a.y, a.y + a.height, sizeL0, strideL0),
  };
}

/** The class with more than half of the cell, or null (ties and pluralities are not majorities). */
export function majorityOf(fractions: ReadonlyMap<number, number>, ignore: number): number | null {
  for (const [v, f] of fractions) if (v !== ignore && f > 0.5) return v;
  return null;
}
