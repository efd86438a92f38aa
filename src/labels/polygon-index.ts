/**
 * Even-odd point-in-polygon for many queries against one polygon (pure: no I/O).
 *
 * A region polygon may have 100,000 vertices and is tested for every candidate patch, so edges
 * are indexed once in a segment tree over the polygon's y coordinates: each edge is stored in
 * O(log n) nodes whose y-slab it spans completely, so the build costs O(n log^2 n) whatever the
 * shape (a "comb" whose every edge spans the full height included). Inside a node, edges of a
 * simple polygon never cross, so they are kept sorted by x and a query counts the edges right of
 * it by binary search; a node whose edges do cross (self-intersecting input) is scanned
 * linearly instead. Answers are those of the plain pnpoly test, the same floating-point
 * expression included: binary search only decides edges clearly left or right of the point
 * (beyond a rounding-error bound), and the few within it are evaluated one by one.
 *
 * The build is a generator that yields every WORK_SLICE units of work, so a caller can spread it
 * over the event loop (buildPolygonTester) or run at once (createPolygonTester).
 */

export type PolygonTester = (x: number, y: number) => boolean;

/** Units of build work (edge visits, sort moves) between two yields of the build generator. */
export const WORK_SLICE = 20_000;
const U = 2 ** -53;
/** Outside these magnitudes the rounding-error bound below does not hold: such nodes are scanned. */
const MAX_COORD = 2 ** 500;
const MIN_DY = 2 ** -500;
/** Absolute part of the error bound (underflow in the product and quotient). */
const ABS_SLACK = 2 ** -400;

interface Index {
  ex: Float64Array;
  ys: Float64Array;
  size: number;
  /** Node v's edges are ids[start[v] .. start[v + 1]). */
  start: Int32Array;
  ids: Int32Array;
  /** Per node: 0 = scan linearly, else the tolerance of its ordered binary search. */
  tol: Float64Array;
}

/** x of edge e at height y, as pnpoly computes it (i = the vertex, j = the one before it). */
function xAt(ex: Float64Array, e: number, y: number): number {
  const xi = ex[4 * e]!;
  const yi = ex[4 * e + 1]!;
  return ((ex[4 * e + 2]! - xi) * (y - yi)) / (ex[4 * e + 3]! - yi) + xi;
}

/** Synchronous build (tests and small polygons). */
export function createPolygonTester(rings: readonly ArrayLike<number>[]): PolygonTester {
  const steps = polygonTesterSteps(rings);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/**
 * The build spread over the event loop: `pause` runs between slices of work (it may wait for the
 * next turn of the loop, or throw to give up).
 */
export async function buildPolygonTester(
  rings: readonly ArrayLike<number>[],
  pause: () => Promise<void>,
): Promise<PolygonTester> {
  const steps = polygonTesterSteps(rings);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    await pause();
  }
}

/** The build, yielding after about WORK_SLICE units of work each time. */
export function* polygonTesterSteps(rings: readonly ArrayLike<number>[]): Generator<void, PolygonTester> {
  const ex = collectEdges(rings);
  const n = ex.length / 4;
  const ys = uniqueYs(ex);
  if (ys.length < 2) return () => false;
  yield;
  const leaves = ys.length - 1;
  let size = 1;
  while (size < leaves) size *= 2;
  const start = new Int32Array(2 * size + 1);
  const meter = { work: 0 };
  for (let e = 0; e < n; e++) {
    forEachNode(ex, ys, size, e, (v) => start[v + 1]!++);
    if (due(meter, 40)) yield;
  }
  for (let v = 0; v < 2 * size; v++) start[v + 1]! += start[v]!;
  yield;
  const ids = new Int32Array(start[2 * size]!);
  const fill = start.slice(0, 2 * size);
  for (let e = 0; e < n; e++) {
    forEachNode(ex, ys, size, e, (v) => (ids[fill[v]!++] = e));
    if (due(meter, 40)) yield;
  }
  const index: Index = { ex, ys, size, start, ids, tol: new Float64Array(2 * size) };
  let largest = 0;
  for (let v = 1; v < 2 * size; v++) largest = Math.max(largest, start[v + 1]! - start[v]!);
  const sortScratch: SortScratch = {
    keys: new Float64Array(largest),
    keys2: new Float64Array(largest),
    ids2: new Int32Array(largest),
  };
  for (let v = 1; v < 2 * size; v++) {
    if (start[v + 1]! > start[v]!) yield* orderNode(index, v, meter, sortScratch);
    if (due(meter, 1)) yield;
  }
  return (x, y) => query(index, x, y);
}

/** Counts work; true when a slice is full (the caller then yields). */
function due(meter: { work: number }, units: number): boolean {
  meter.work += units;
  if (meter.work < WORK_SLICE) return false;
  meter.work = 0;
  return true;
}

/** Non-horizontal edges as (xi, yi, xj, yj), i a vertex and j the one before it in its ring. */
function collectEdges(rings: readonly ArrayLike<number>[]): Float64Array {
  let count = 0;
  for (const ring of rings) count += ring.length >> 1;
  const out = new Float64Array(4 * count);
  let m = 0;
  for (const ring of rings) {
    const n = ring.length >> 1;
    for (let i = 0, j = n - 1; i < n; j = i++) {
      if (ring[2 * i + 1] === ring[2 * j + 1]) continue; // never crossed by a horizontal ray
      out[4 * m] = ring[2 * i]!;
      out[4 * m + 1] = ring[2 * i + 1]!;
      out[4 * m + 2] = ring[2 * j]!;
      out[4 * m + 3] = ring[2 * j + 1]!;
      m++;
    }
  }
  return out.subarray(0, 4 * m);
}

function uniqueYs(ex: Float64Array): Float64Array {
  const all = new Float64Array(ex.length / 2);
  for (let e = 0; e < ex.length / 4; e++) {
    all[2 * e] = ex[4 * e + 1]!;
    all[2 * e + 1] = ex[4 * e + 3]!;
  }
  all.sort();
  let m = 0;
  for (let k = 0; k < all.length; k++) if (k === 0 || all[k] !== all[m - 1]) all[m++] = all[k]!;
  return all.subarray(0, m);
}

/** First index k with ys[k] > y. */
function upper(ys: Float64Array, y: number): number {
  let lo = 0;
  let hi = ys.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ys[mid]! <= y) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The canonical nodes of edge e: it covers the elementary slabs [ys[a], ys[a + 1]) .. up to ys[b]. */
function forEachNode(ex: Float64Array, ys: Float64Array, size: number, e: number, visit: (v: number) => void): void {
  const y0 = Math.min(ex[4 * e + 1]!, ex[4 * e + 3]!);
  const y1 = Math.max(ex[4 * e + 1]!, ex[4 * e + 3]!);
  let l = upper(ys, y0) - 1 + size;
  let r = upper(ys, y1) - 1 + size;
  while (l < r) {
    if (l & 1) visit(l++);
    if (r & 1) visit(--r);
    l >>= 1;
    r >>= 1;
  }
}

/** The y-slab [top, bottom] of node v. */
function slabOf(index: Index, v: number): [number, number] {
  let lo = v;
  let hi = v + 1;
  while (lo < index.size) {
    lo *= 2;
    hi *= 2;
  }
  return [index.ys[lo - index.size]!, index.ys[hi - index.size]!];
}

/**
 * Sorts node v's edges by x at the middle of its slab and keeps the order for binary search
 * when it holds, within the error bound E, at the slab's top and bottom too (edges that do not
 * cross stay in order over the whole slab, as x is linear in y). Else the node is scanned.
 */
function* orderNode(index: Index, v: number, meter: { work: number }, scratch: SortScratch): Generator<void, void> {
  const { ex, ids, start } = index;
  const from = start[v]!;
  const to = start[v + 1]!;
  const [top, bottom] = slabOf(index, v);
  let maxAbs = 0;
  let sane = Math.abs(top) <= MAX_COORD && Math.abs(bottom) <= MAX_COORD;
  for (let k = from; k < to; k++) {
    const e = ids[k]!;
    maxAbs = Math.max(maxAbs, Math.abs(ex[4 * e]!), Math.abs(ex[4 * e + 2]!));
    const [yi, yj] = [ex[4 * e + 1]!, ex[4 * e + 3]!];
    sane &&= Math.abs(yj - yi) >= MIN_DY && Math.abs(yi) <= MAX_COORD && Math.abs(yj) <= MAX_COORD;
  }
  if (!sane || maxAbs > MAX_COORD) return;
  const mid = top + (bottom - top) / 2;
  for (let k = from; k < to; k++) scratch.keys[k - from] = xAt(ex, ids[k]!, mid);
  if (due(meter, 4 * (to - from))) yield;
  yield* mergeSort(scratch, ids.subarray(from, to), meter);
  if (due(meter, 4 * (to - from))) yield;
  const err = 32 * U * maxAbs + ABS_SLACK;
  if (inOrder(ex, ids, from, to, top, err) && inOrder(ex, ids, from, to, bottom, err)) index.tol[v] = 6 * err;
}

/** Every edge's x at y is at most the next one's plus err, taken over all edges before it. */
function inOrder(ex: Float64Array, ids: Int32Array, from: number, to: number, y: number, err: number): boolean {
  let runMax = -Infinity;
  for (let k = from; k < to; k++) {
    const x = xAt(ex, ids[k]!, y);
    if (runMax > x + err) return false;
    runMax = Math.max(runMax, x);
  }
  return true;
}

/** Buffers of the node sorts, sized for the largest node and shared by all (no garbage per node). */
interface SortScratch {
  keys: Float64Array;
  keys2: Float64Array;
  ids2: Int32Array;
}

/** Bottom-up merge sort of ids by scratch.keys (their first ids.length), yielding between slices of work. */
function* mergeSort(scratch: SortScratch, ids: Int32Array, meter: { work: number }): Generator<void, void> {
  const n = ids.length;
  let k1 = scratch.keys;
  let i1 = ids;
  let k2 = scratch.keys2;
  let i2 = scratch.ids2;
  for (let width = 1; width < n; width *= 2) {
    for (let lo = 0; lo < n; lo += 2 * width) {
      const mid = Math.min(n, lo + width);
      const hi = Math.min(n, lo + 2 * width);
      let a = lo;
      let b = mid;
      for (let o = lo; o < hi; o++) {
        const takeA = a < mid && (b >= hi || k1[a]! <= k1[b]!);
        const src = takeA ? a++ : b++;
        k2[o] = k1[src]!;
        i2[o] = i1[src]!;
      }
      if (due(meter, 2 * (hi - lo))) yield;
    }
    [k1, k2] = [k2, k1];
    [i1, i2] = [i2, i1];
  }
  if (i1 !== ids) ids.set(i1.subarray(0, n));
}

function query(index: Index, x: number, y: number): boolean {
  const { ys, size, start } = index;
  if (Number.isNaN(x) || !(y >= ys[0]! && y < ys[ys.length - 1]!)) return false;
  let inside = 0;
  for (let v = upper(ys, y) - 1 + size; v >= 1; v >>= 1) {
    if (start[v + 1]! > start[v]!) inside ^= crossingsRight(index, v, x, y) & 1;
  }
  return inside === 1;
}

/** How many of node v's edges cross the ray from (x, y) towards +x. */
function crossingsRight(index: Index, v: number, x: number, y: number): number {
  const { ex, ids, start, tol } = index;
  const from = start[v]!;
  const to = start[v + 1]!;
  let count = 0;
  let scanFrom = from;
  let scanTo = to;
  if (tol[v]! > 0) {
    // Before lo: certainly left of x; from hi on: certainly right (see orderNode's bound).
    scanFrom = firstAbove(index, from, to, y, x - tol[v]!, true);
    scanTo = Math.max(scanFrom, firstAbove(index, from, to, y, x + tol[v]!, false));
    count = to - scanTo;
  }
  for (let k = scanFrom; k < scanTo; k++) if (x < xAt(ex, ids[k]!, y)) count++;
  return count;
}

/** First k in [from, to) whose edge's x at y is >= t (orEqual) or > t. */
function firstAbove(index: Index, from: number, to: number, y: number, t: number, orEqual: boolean): number {
  let lo = from;
  let hi = to;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const x = xAt(index.ex, index.ids[mid]!, y);
    if (orEqual ? x < t : x <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
