/**
 * The grid as CSV text, straight from the counts: no row arrays, and each distinct fraction printed
 * once per window area (a 73-slide table has 5.7 million rows of ~12 numbers, nearly all 0, 1 or a
 * count over one of a few areas). The text is the row arrays' exactly: String() of the same doubles.
 */
import type { Generation } from '../generation.js';
import type { SlideGrid } from './slide-grid.js';
import { tissueSum } from './slide-grid.js';

/** Areas up to this many pixels keep their printed fractions (an array of area + 1 strings). */
const MAX_CACHED_AREA = 1 << 20;
/** Tissue windows up to this side keep theirs (two counts: (area + 1)^2 strings). */
const MAX_CACHED_TISSUE_AREA = 1 << 10;

/** RFC 4180: quote a field holding a comma, quote or line break. */
export function csvField(v: string | number | null): string {
  if (typeof v === 'number') return String(v); // never needs quotes: no regex for millions of fractions
  const s = v === null ? '' : v;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** String(n / area), remembered per area. */
export class FractionText {
  private readonly byArea = new Map<number, string[]>();
  private readonly tissueByArea = new Map<number, string[]>();

  of(n: number, area: number): string {
    if (n === 0) return '0';
    if (n === area) return '1';
    if (area > MAX_CACHED_AREA) return String(n / area);
    let texts = this.byArea.get(area);
    if (!texts) this.byArea.set(area, (texts = new Array<string>(area + 1)));
    return (texts[n] ??= String(n / area));
  }

  /** 1 - n / area (the labelled share from the unlabelled count), as the rows compute it. */
  complement(n: number, area: number): string {
    if (n === 0) return '1';
    if (n === area) return '0';
    // Negative indices: the same per-area array, another half.
    if (area > MAX_CACHED_AREA) return String(1 - n / area);
    let texts = this.byArea.get(-area);
    if (!texts) this.byArea.set(-area, (texts = new Array<string>(area + 1)));
    return (texts[n] ??= String(1 - n / area));
  }

  /** tissueSum's text for (unlabelled, labelled) tissue pixels of a window. */
  tissue(unlabelled: number, labelled: number, area: number): string {
    if (area > MAX_CACHED_TISSUE_AREA) return String(tissueSum(unlabelled, labelled, area));
    let texts = this.tissueByArea.get(area);
    if (!texts) this.tissueByArea.set(area, (texts = new Array<string>((area + 1) ** 2)));
    return (texts[unlabelled * (area + 1) + labelled] ??= String(tissueSum(unlabelled, labelled, area)));
  }
}

/** The CSV lines of the cells grid.load(j, c0, c1) counted. */
export function csvLines(g: Generation, grid: SlideGrid, j: number, text: FractionText, names: CsvNames): string {
  const head = `${names.slide},`;
  const tail = `,${grid.ys[j]},${names.size},`;
  let out = '';
  for (let c = grid.c0; c < grid.c1; c++) {
    let line = head + String(grid.xs[c]) + tail;
    const area = grid.labelArea(c);
    if (grid.labels) {
      for (const k of g.taxonomy) line += `${text.of(grid.classCount(c, k.value), area)},`;
      line += `${text.complement(grid.classCount(c, 0), area)},`;
    } else {
      // No labels: all unlabelled (the fraction of value 0 is 1), nothing labelled.
      for (const k of g.taxonomy) line += k.value === 0 ? '1,' : '0,';
      line += '0,';
    }
    if (grid.tissue) {
      const [labelled, unlabelled] = grid.tissueCounts(c);
      const ta = grid.tissueArea(c);
      line += `${text.tissue(unlabelled, labelled, ta)},${text.of(unlabelled, ta)},`;
    } else line += ',,';
    const m = grid.majority(c);
    out += `${line}${m === null ? '' : (names.classes.get(m) ?? String(m))}\n`;
  }
  return out;
}

export interface CsvNames {
  slide: string;
  size: string;
  classes: Map<number, string>;
}

export function csvNames(g: Generation, grid: SlideGrid): CsvNames {
  return {
    slide: csvField(grid.slide.id),
    size: String(grid.sizeL0),
    classes: new Map(g.taxonomy.map((c) => [c.value, csvField(c.name)])),
  };
}
