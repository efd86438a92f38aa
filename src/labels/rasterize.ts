/**
 * Scanline rasterisation of label shapes into an 8-bit label raster (pure: no I/O).
 *
 * Planes: `l0` = level-0 slide pixels; `r` = label-raster pixels, r = l0 / downsample.
 * A raster pixel belongs to a shape when its centre (i + 0.5, j + 0.5) in plane `r` is inside
 * the shape by the even-odd rule. The rule is exact and needs no antialiasing, so label values
 * never blend.
 *
 * Edge flags, no sorting: each edge toggles a parity flag at pixel ceil(x - 0.5) of every row
 * centre it crosses, and a pixel is inside when the XOR of its row's flags up to it is 1 (the
 * same pixels as spans [ceil(xa - 0.5), ceil(xb - 0.5)) between sorted crossings). A band of rows
 * costs O(edge-row crossings + the pixels between each row's outermost crossings), whatever the
 * shape: a "comb" whose edges all span every row no longer pays a sort per row. Rows must be
 * requested in increasing order (band after band): each shape keeps an active-edge table.
 * rasterWork bounds the whole cost before any of it is spent.
 */
import type { LabelShape } from './shapes.js';

export interface ShapeScanner {
  value: number | null;
  /** First and last raster row (plane `r`) whose centre can be inside the shape. */
  rowMin: number;
  rowMax: number;
  /** Toggles the flags of rows [from, from + rows) (see rasterizeRows); rows must not go backwards. */
  toggle(sc: Scratch, from: number, rows: number): void;
}

/** Prepares shapes for scanning; holes (value null) are moved after the painted shapes. */
export function prepareShapes(shapes: readonly LabelShape[], downsample: number): ShapeScanner[] {
  const painted = shapes.filter((s) => s.value !== null).map((s) => createScanner(s, downsample));
  const holes = shapes.filter((s) => s.value === null).map((s) => createScanner(s, downsample));
  return [...painted, ...holes].filter((s) => s.rowMax >= s.rowMin);
}

/**
 * Work units of rasterising `shapes` on a `width` x `height` raster in bands of `bandRows` rows:
 * what rasterizeRows at most spends. Per edge, 1 per band it reaches, plus its row-by-row
 * toggles (a column change costs one halving per level down to a short stretch, and never more
 * than its rows); per shape, its rows times its clipped bounding-box width (what a row scans).
 * Pure and O(edges): the indexer refuses a file above its budget before painting any of it.
 */
export function rasterWork(
  shapes: readonly LabelShape[],
  downsample: number,
  width: number,
  height: number,
  bandRows: number,
): number {
  const perChange = 2 * Math.ceil(Math.log2(Math.max(2, bandRows))) + SHORT_STRETCH;
  let work = 0;
  for (const shape of shapes) {
    const edges = collectEdges(shape, downsample);
    let [x0, x1, r0, r1] = [Infinity, -Infinity, Infinity, -Infinity];
    for (let e = 0; e < edges.length; e += 4) {
      const [top, bottom] = rowSpan(edges[e + 1]!, edges[e + 3]!);
      const from = Math.max(0, top);
      const to = Math.min(height - 1, bottom);
      work += 1;
      if (to < from) continue;
      const dx = edges[e + 2]! - edges[e]!;
      const dy = edges[e + 3]! - edges[e + 1]!;
      const [ex, ey] = [edges[e]!, edges[e + 1]!];
      const changes = Math.abs(colAt(ex, ey, dx, dy, width, to) - colAt(ex, ey, dx, dy, width, from));
      work += Math.ceil((to - from + 1) / bandRows) + 1 + Math.min(to - from + 1, changes * perChange);
      x0 = Math.min(x0, edges[e]!, edges[e + 2]!);
      x1 = Math.max(x1, edges[e]!, edges[e + 2]!);
      r0 = Math.min(r0, from);
      r1 = Math.max(r1, to);
    }
    const cols = Math.min(width, Math.ceil(x1)) - Math.max(0, Math.floor(x0)) + 1;
    if (r1 >= r0 && cols > 0) work += (r1 - r0 + 1) * cols;
  }
  return work;
}

/**
 * Scratch of one band: per-row flags (`flags`, row r at r * stride) with each row's first and last
 * flagged column (lo > hi: none), and vertical runs (an edge that keeps one pixel column over
 * several rows, as every edge of a comb does): toggled once where the run starts and once after
 * it ends in `vdiff`, and carried down the rows in `colState`, so such an edge costs O(1) a band.
 */
interface Scratch {
  stride: number;
  flags: Uint8Array;
  lo: Int32Array;
  hi: Int32Array;
  vdiff: Uint8Array;
  colState: Uint8Array;
  vLo: number;
  vHi: number;
}

/** Kept per layer buffer (a composer paints every band into one layer); all zero between calls. */
const scratches = new WeakMap<Uint8Array, Scratch>();

function scratchFor(layer: Uint8Array, width: number, rows: number): Scratch {
  const stride = width + 1;
  let s = scratches.get(layer);
  if (!s || s.stride !== stride || s.lo.length < rows) {
    s = {
      stride,
      flags: new Uint8Array(rows * stride),
      lo: new Int32Array(rows).fill(stride),
      hi: new Int32Array(rows).fill(-1),
      vdiff: new Uint8Array((rows + 1) * stride),
      colState: new Uint8Array(stride),
      vLo: stride,
      vHi: -1,
    };
    scratches.set(layer, s);
  }
  return s;
}

/**
 * Paints rows [rowStart, rowStart + rowCount) of a raster `width` pixels wide into `layer`
 * (row-major, row 0 of `layer` = raster row `rowStart`). Holes write 0. `dirty[tx]` is set to 1
 * for every column of `tileSize`-pixel tiles a painted span touches.
 */
export function rasterizeRows(
  layer: Uint8Array,
  width: number,
  rowStart: number,
  rowCount: number,
  scanners: readonly ShapeScanner[],
  dirty: Uint8Array,
  tileSize: number,
): void {
  const sc = scratchFor(layer, width, rowCount);
  for (const s of scanners) {
    s.toggle(sc, rowStart, rowCount);
    // Only the shape's own rows of the band hold flags (a file may hold thousands of small shapes).
    const r0 = Math.max(0, s.rowMin - rowStart);
    const r1 = Math.min(rowCount - 1, s.rowMax - rowStart);
    for (let r = r0; r <= r1; r++) scanRow(sc, r, layer, width, s.value ?? 0, dirty, tileSize);
    if (sc.vHi >= sc.vLo) {
      // Runs end at most one row below the shape's last row: clear what is left.
      sc.vdiff.fill(0, (r1 + 1) * sc.stride + sc.vLo, (r1 + 1) * sc.stride + sc.vHi + 1);
      sc.colState.fill(0, sc.vLo, sc.vHi + 1);
      sc.vLo = sc.stride;
      sc.vHi = -1;
    }
  }
}

/** Paints row r's spans: a pixel is inside when the XOR of its row's flags up to it is 1. */
function scanRow(
  sc: Scratch,
  r: number,
  layer: Uint8Array,
  width: number,
  v: number,
  dirty: Uint8Array,
  tileSize: number,
): void {
  const { stride, flags, colState, vdiff, vLo, vHi } = sc;
  const base = r * stride;
  if (vHi >= vLo) {
    for (let c = vLo; c <= vHi; c++) {
      if (vdiff[base + c] === 0) continue;
      vdiff[base + c] = 0;
      colState[c]! ^= 1;
    }
  }
  const from = Math.min(sc.lo[r]!, vLo);
  const to = Math.max(sc.hi[r]!, vHi);
  let inside = 0;
  let spanStart = 0;
  for (let i = from; i <= to; i++) {
    const f = flags[base + i]!;
    if (f !== 0) flags[base + i] = 0;
    if ((f ^ colState[i]!) === 0) continue;
    inside ^= 1;
    if (inside === 1) spanStart = i;
    else paintSpan(layer, r * width, spanStart, Math.min(i, width), v, dirty, tileSize);
  }
  sc.lo[r] = stride;
  sc.hi[r] = -1;
}

function paintSpan(
  layer: Uint8Array,
  rowOff: number,
  i0: number,
  i1: number,
  v: number,
  dirty: Uint8Array,
  tileSize: number,
): void {
  if (i1 <= i0) return;
  layer.fill(v, rowOff + i0, rowOff + i1);
  if (v !== 0) markDirty(dirty, i0, i1, tileSize);
}

function markDirty(dirty: Uint8Array, i0: number, i1: number, tileSize: number): void {
  const t1 = Math.floor((i1 - 1) / tileSize);
  for (let t = Math.floor(i0 / tileSize); t <= t1; t++) dirty[t] = 1;
}

/** Rows j whose centre j + 0.5 lies in [yTop, yBottom): first and last (last < first: none). */
function rowSpan(yTop: number, yBottom: number): [number, number] {
  let first = Math.ceil(yTop - 0.5);
  if (first + 0.5 < yTop) first++;
  let last = Math.ceil(yBottom - 0.5) - 1;
  if (last + 0.5 >= yBottom) last--;
  return [first, last];
}

function createScanner(shape: LabelShape, downsample: number): ShapeScanner {
  const edges = collectEdges(shape, downsample);
  const n = edges.length / 4;
  const first = new Float64Array(n);
  const last = new Float64Array(n);
  let rowMin = Infinity;
  let rowMax = -Infinity;
  for (let e = 0; e < n; e++) {
    [first[e], last[e]] = rowSpan(edges[e * 4 + 1]!, edges[e * 4 + 3]!);
    rowMin = Math.min(rowMin, first[e]!);
    rowMax = Math.max(rowMax, last[e]!);
  }
  // Edge order by first row, so the active table grows by walking a cursor.
  const order = Int32Array.from({ length: n }, (_, e) => e).sort((a, b) => first[a]! - first[b]!);
  let cursor = 0;
  const active = new Int32Array(n);
  let count = 0;
  let nextRow = -Infinity;
  return {
    value: shape.value,
    rowMin: Math.max(0, rowMin),
    rowMax,
    toggle(sc, from, rows) {
      if (from < nextRow) throw new Error('rasterize: rows must be scanned in increasing order');
      nextRow = from + rows;
      if (from > rowMax || from + rows <= rowMin) return;
      const to = from + rows - 1;
      while (cursor < n && first[order[cursor]!]! <= to) active[count++] = order[cursor++]!;
      let kept = 0;
      for (let k = 0; k < count; k++) {
        const e = active[k]!;
        if (last[e]! < from) continue; // ended above this band: never needed again
        active[kept++] = e;
        toggleEdge(edges, e, Math.max(from, first[e]!), Math.min(to, last[e]!), from, sc);
      }
      count = kept;
    },
  };
}

/**
 * The flag column of an edge at row j: the first pixel whose centre is right of the crossing x
 * (same expression as the scanline reference), clamped to [0, width].
 */
function colAt(x0: number, y0: number, dx: number, dy: number, width: number, j: number): number {
  const c = Math.ceil(x0 + ((j + 0.5 - y0) * dx) / dy - 0.5);
  return c > 0 ? (c < width ? c : width) : 0;
}

/** Toggles edge e's flag in rows [j0, j1] (raster rows; band row 0 = raster row `from`). */
function toggleEdge(edges: Float64Array, e: number, j0: number, j1: number, from: number, sc: Scratch): void {
  const x0 = edges[e * 4]!;
  const y0 = edges[e * 4 + 1]!;
  const dx = edges[e * 4 + 2]! - x0;
  const dy = edges[e * 4 + 3]! - y0;
  const width = sc.stride - 1;
  toggleRows(sc, from, x0, y0, dx, dy, j0, j1, colAt(x0, y0, dx, dy, width, j0), colAt(x0, y0, dx, dy, width, j1));
}

/** Rows below which a stretch of an edge is toggled row by row rather than split further. */
const SHORT_STRETCH = 8;

/**
 * Toggles rows [j0, j1] of an edge whose columns there are c0 and c1. The column is monotone in j
 * (every step of colAt's expression rounds monotonically), so equal ends mean one column all
 * along: a vertical run, O(1). Otherwise the stretch is halved: an edge costs O(its column
 * changes x log rows), at most its rows.
 */
function toggleRows(
  sc: Scratch,
  from: number,
  x0: number,
  y0: number,
  dx: number,
  dy: number,
  j0: number,
  j1: number,
  c0: number,
  c1: number,
): void {
  const width = sc.stride - 1;
  if (c0 === c1 && j1 > j0) {
    sc.vdiff[(j0 - from) * sc.stride + c0]! ^= 1;
    sc.vdiff[(j1 + 1 - from) * sc.stride + c0]! ^= 1;
    if (c0 < sc.vLo) sc.vLo = c0;
    if (c0 > sc.vHi) sc.vHi = c0;
    return;
  }
  if (j1 - j0 < SHORT_STRETCH) {
    for (let j = j0; j <= j1; j++) {
      toggleOne(sc, j - from, j === j0 ? c0 : j === j1 ? c1 : colAt(x0, y0, dx, dy, width, j));
    }
    return;
  }
  const mid = (j0 + j1) >> 1;
  toggleRows(sc, from, x0, y0, dx, dy, j0, mid, c0, colAt(x0, y0, dx, dy, width, mid));
  toggleRows(sc, from, x0, y0, dx, dy, mid + 1, j1, colAt(x0, y0, dx, dy, width, mid + 1), c1);
}

function toggleOne(sc: Scratch, r: number, col: number): void {
  sc.flags[r * sc.stride + col]! ^= 1;
  if (col < sc.lo[r]!) sc.lo[r] = col;
  if (col > sc.hi[r]!) sc.hi[r] = col;
}

/** Non-horizontal edges as (x_top, y_top, x_bottom, y_bottom) in plane `r`, top y < bottom y. */
function collectEdges(shape: LabelShape, downsample: number): Float64Array {
  const out: number[] = [];
  for (const ring of shape.rings) {
    const pts = ring.length >> 1;
    for (let p = 0; p < pts; p++) {
      const q = (p + 1) % pts;
      const ax = ring[p * 2]! / downsample;
      const ay = ring[p * 2 + 1]! / downsample;
      const bx = ring[q * 2]! / downsample;
      const by = ring[q * 2 + 1]! / downsample;
      if (ay === by) continue; // horizontal edges never cross a pixel-centre line
      if (ay < by) out.push(ax, ay, bx, by);
      else out.push(bx, by, ax, ay);
    }
  }
  return Float64Array.from(out);
}
