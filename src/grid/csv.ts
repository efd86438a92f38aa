/**
 * The grid as CSV text, straight from the counts: no row arrays, and each distinct fraction printed
 * once per window area (a 73-slide table has 5.7 million rows of ~12 numbers, nearly all 0, 1 or a
 * count over one of a few areas). The text is the row arrays' exactly: String() of the same doubles.
 */
import type { Generation } from '../generation.js';
import type { SlideGrid } from './slide-grid.js';
import { tissueSum } from './slide-grid.js';
import { TISSUE_LABELLED, TISSUE_UNLABELLED } from '../tissue/selectors.js';

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

  /** The two tissue fields' text and their commas for (unlabelled, labelled) tissue pixels of a window. */
  tissue(unlabelled: number, labelled: number, area: number): string {
    const make = () => `${String(tissueSum(unlabelled, labelled, area))},${this.of(unlabelled, area)},`;
    if (area > MAX_CACHED_TISSUE_AREA) return make();
    let texts = this.tissueByArea.get(area);
    if (!texts) this.tissueByArea.set(area, (texts = new Array<string>((area + 1) ** 2)));
    return (texts[unlabelled * (area + 1) + labelled] ??= make());
  }

  /** The class columns, labelled and their commas of a window all of value v (most cells), by (v, area). */
  uniform(g: Generation, v: number, area: number): string {
    const make = () => g.taxonomy.map((k) => (k.value === v ? '1,' : '0,')).join('') + (v === 0 ? '0,' : '1,');
    if (area > MAX_CACHED_AREA) return make();
    return (this.uniformText[area * 256 + v] ??= make());
  }

  private readonly uniformText: string[] = [];
}

/** The CSV lines of the cells grid.load(j, c0, c1) counted. */
export function csvLines(g: Generation, grid: SlideGrid, j: number, text: FractionText, names: CsvNames): string {
  const head = `${names.slide},`;
  const tail = `,${grid.ys[j]},${names.size},`;
  const labels = grid.labels;
  const tissue = grid.tissue;
  let out = '';
  for (let c = grid.c0; c < grid.c1; c++) {
    let line = head + String(grid.xs[c]) + tail;
    if (labels) {
      const area = grid.labelArea(c);
      const seen = labels.seen(c);
      // One value over the whole window (none seen: all off the raster, value 0).
      const v = seen.length === 0 ? 0 : seen.length === 1 ? seen[0]! : -1;
      if (v >= 0 && labels.n(c, v) === area) line += text.uniform(g, v, area);
      else {
        for (const k of g.taxonomy) line += `${text.of(labels.n(c, k.value), area)},`;
        line += `${text.complement(labels.n(c, 0), area)},`;
      }
    } else line += names.unlabelled;
    if (tissue) {
      const ta = grid.tissueArea(c);
      line += text.tissue(tissue.n(c, TISSUE_UNLABELLED), tissue.n(c, TISSUE_LABELLED), ta);
    } else line += ',,';
    const m = grid.majority(c);
    out += `${line}${m === null ? '' : (names.classes.get(m) ?? String(m))}\n`;
  }
  return out;
}

export interface CsvNames {
  slide: string;
  /** The class columns and labelled of a slide without labels: all unlabelled (value 0), nothing labelled. */
  unlabelled: string;
  size: string;
  classes: Map<number, string>;
}

export function csvNames(g: Generation, grid: SlideGrid): CsvNames {
  return {
    slide: csvField(grid.slide.id),
    unlabelled: g.taxonomy.map((k) => (k.value === 0 ? '1,' : '0,')).join('') + '0,',
    size: String(grid.sizeL0),
    classes: new Map(g.taxonomy.map((c) => [c.value, csvField(c.name)])),
  };
}
