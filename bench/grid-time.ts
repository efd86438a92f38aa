/**
 * Times GET /grid's work on an index without HTTP, phase by phase, in wall and CPU seconds:
 *   npx tsx bench/grid-time.ts INDEX [SLIDES]          (PHASES=count,rows,csv to pick)
 * count: the rasters counted under every cell (SlideGrid blocks); rows: the row arrays JSON and
 * Parquet use; csv: the CSV text. The part `experiments` times only the whole request. Read-only.
 */
import { openIndexReadOnly } from '../src/db/open.js';
import { AppError } from '../src/errors.js';
import { createGeneration } from '../src/generation.js';
import { csvLines, csvNames, FractionText } from '../src/grid/csv.js';
import { SlideGrid } from '../src/grid/slide-grid.js';
import { cellScale, hasGrid, slideRows, type GridParams } from '../src/grid/table.js';

const [index, limit] = [process.argv[2]!, Number(process.argv[3] ?? 1000)];
const g = createGeneration(openIndexReadOnly(index), '.', 128 * 2 ** 20);
const p: GridParams = { size: 256, stride: 256, level: null, mpp: 0.5, rect: null };
const slides = g.catalogue
  .listSlides({ classValues: null, status: 'ok', limit: g.catalogue.slideCount(), offset: 0 })
  .rows.filter((s) => hasGrid(g, s) && !(cellScale(g, s, p) instanceof AppError))
  .slice(0, limit);
const phases = (process.env.PHASES ?? 'count,rows,csv').split(',');

function timed(name: string, fn: () => number): void {
  if (!phases.includes(name)) return;
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const n = fn();
  const c = process.cpuUsage(c0);
  const wall = (performance.now() - t0) / 1000;
  process.stdout.write(`${name}: ${wall.toFixed(2)} s wall, ${((c.user + c.system) / 1e6).toFixed(2)} s CPU (${n})\n`);
}

function grids(): SlideGrid[] {
  return slides.map((s) => {
    const scale = cellScale(g, s, p) as { sizeL0: number; strideL0: number };
    return new SlideGrid(g, s, null, scale.sizeL0, scale.strideL0);
  });
}

timed('count', () => {
  let n = 0;
  for (const grid of grids()) for (const _ of grid.blocks()) n += grid.c1 - grid.c0;
  return n;
});
timed('rows', () => {
  let n = 0;
  for (const s of slides) for (const r of slideRows(g, s, p)) n += r.length;
  return n;
});
timed('csv', () => {
  let n = 0;
  const text = new FractionText();
  for (const grid of grids()) {
    const names = csvNames(g, grid);
    for (const j of grid.blocks()) n += csvLines(g, grid, j, text, names).length;
  }
  return n;
});
