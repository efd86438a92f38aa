/**
 * The label raster of a slide: one 8-bit value per raster pixel at `downsample` level-0 pixels,
 * cut into square tiles, with a pyramid of 2x mode-reduced levels above it (pure: no I/O).
 *
 * The indexer pushes the base level band by band (one row of tiles at a time), so the whole
 * raster of a Camelyon16 slide (over a gigapixel at downsample 4) never sits in memory; each
 * reduced level keeps at most one band of its own.
 */

export const LABEL_TILE_SIZE = 256;

export interface RasterGeometry {
  /** Level-0 pixels per raster pixel at level 0 of the raster. */
  downsample: number;
  width: number;
  height: number;
  tileSize: number;
  /** Number of raster levels; level k has downsample `downsample * 2^k`. */
  levels: number;
}

export function rasterGeometry(
  slideWidth: number,
  slideHeight: number,
  downsample: number,
  tileSize = LABEL_TILE_SIZE,
): RasterGeometry {
  const width = Math.ceil(slideWidth / downsample);
  const height = Math.ceil(slideHeight / downsample);
  let levels = 1;
  for (let w = width, h = height; w > tileSize || h > tileSize; w = Math.ceil(w / 2), h = Math.ceil(h / 2)) levels++;
  return { downsample, width, height, tileSize, levels };
}

export function levelSize(g: RasterGeometry, level: number): { width: number; height: number } {
  let w = g.width;
  let h = g.height;
  for (let k = 0; k < level; k++) {
    w = Math.ceil(w / 2);
    h = Math.ceil(h / 2);
  }
  return { width: w, height: h };
}

export interface LabelTile {
  level: number;
  tx: number;
  ty: number;
  /** The one value of a uniform tile, or null when `data` holds the pixels. */
  uniform: number | null;
  /** tileSize x tileSize values, row-major, 0 past the raster edge; null for a uniform tile. */
  data: Uint8Array | null;
  /** Pixels per value inside the raster (level 0 only; 256 entries). */
  counts: Uint32Array | null;
}

export interface PyramidBuilder {
  /** Next band of the base level: `rows` rows of `width` values; dirty[tx] = 0 means all zero. */
  pushBand(band: Uint8Array, rows: number, dirty: Uint8Array): void;
  finish(): void;
}

/** Builds tiles for every level; `emit` receives each tile that is not all 0. */
export function createPyramidBuilder(g: RasterGeometry, emit: (tile: LabelTile) => void): PyramidBuilder {
  const stages = Array.from({ length: g.levels }, (_, level) => createStage(g, level, emit));
  for (let k = 0; k + 1 < stages.length; k++) stages[k]!.next = stages[k + 1]!;
  return {
    pushBand: (band, rows, dirty) => stages[0]!.push(band, rows, dirty),
    finish: () => stages[0]!.flush(),
  };
}

interface Stage {
  next: Stage | null;
  push(band: Uint8Array, rows: number, dirty: Uint8Array): void;
  flush(): void;
}

function createStage(g: RasterGeometry, level: number, emit: (t: LabelTile) => void): Stage {
  const { width } = levelSize(g, level);
  const ts = g.tileSize;
  const tilesX = Math.ceil(width / ts);
  // Reduced levels accumulate two half-bands from the level below before cutting tiles.
  const acc = new Uint8Array(width * ts);
  const accDirty = new Uint8Array(tilesX);
  let accRows = 0;
  let bandIndex = 0;
  const stage: Stage = {
    next: null,
    push(band, rows, dirty) {
      if (level === 0) return cut(band, rows, dirty);
      acc.set(band.subarray(0, rows * width), accRows * width);
      for (let t = 0; t < tilesX; t++) accDirty[t] = accDirty[t]! | dirty[t]!;
      accRows += rows;
      if (accRows === ts) drain();
    },
    flush() {
      if (accRows > 0) drain();
      stage.next?.flush();
    },
  };
  function drain(): void {
    cut(acc, accRows, accDirty);
    acc.fill(0);
    accDirty.fill(0);
    accRows = 0;
  }
  function cut(band: Uint8Array, rows: number, dirty: Uint8Array): void {
    const ty = bandIndex++;
    for (let tx = 0; tx < tilesX; tx++) {
      if (dirty[tx] === 0) continue;
      const tile = cutTile(band, width, rows, tx, ts, level === 0);
      if (tile.uniform !== 0) emit({ level, tx, ty, ...tile });
    }
    if (stage.next) {
      const half = reduceBand(band, width, rows, dirty, ts);
      const halfDirty = new Uint8Array(Math.ceil(Math.ceil(width / 2) / ts));
      for (let t = 0; t < tilesX; t++) if (dirty[t]) halfDirty[Math.floor((t * ts) / 2 / ts)] = 1;
      stage.next.push(half, Math.ceil(rows / 2), halfDirty);
    }
  }
  return stage;
}

function cutTile(
  band: Uint8Array,
  width: number,
  rows: number,
  tx: number,
  ts: number,
  withCounts: boolean,
): Omit<LabelTile, 'level' | 'tx' | 'ty'> {
  const x0 = tx * ts;
  const w = Math.min(ts, width - x0);
  const first = band[x0]!;
  // Most tiles are uniform (glass, or tissue throughout): a compare loop settles them without a
  // copy or a histogram (whose increments of one counter serialise on each other).
  if (isUniform(band, width, rows, x0, w, first)) {
    const counts = withCounts ? new Uint32Array(256) : null;
    if (counts) counts[first] = w * rows;
    return { uniform: first, data: null, counts };
  }
  const data = new Uint8Array(ts * ts);
  for (let r = 0; r < rows; r++) data.set(band.subarray(r * width + x0, r * width + x0 + w), r * ts);
  return { uniform: null, data, counts: withCounts ? countValues(data, ts, w, rows) : null };
}

function isUniform(band: Uint8Array, width: number, rows: number, x0: number, w: number, v: number): boolean {
  for (let r = 0; r < rows; r++) {
    for (let k = r * width + x0, end = k + w; k < end; k++) if (band[k] !== v) return false;
  }
  return true;
}

/** Pixels per value in the first `w` columns of `rows` rows (stride ts), in four interleaved histograms. */
function countValues(data: Uint8Array, ts: number, w: number, rows: number): Uint32Array {
  const h = new Uint32Array(1024);
  for (let r = 0; r < rows; r++) {
    for (let k = r * ts, i = 0; i < w; i++, k++) h[((i & 3) << 8) | data[k]!]!++;
  }
  const counts = new Uint32Array(256);
  for (let v = 0; v < 256; v++) counts[v] = h[v]! + h[256 + v]! + h[512 + v]! + h[768 + v]!;
  return counts;
}

/**
 * 2x2 mode reduction of a band (`rows` rows, `width` wide). Ties prefer a labelled value over 0,
 * then the first in reading order, so thin labelled structures survive one more level. With
 * `dirty` (per tile column of `tileSize`, 0 = all zero), clean columns are left 0 unread: a
 * Camelyon16 label raster is mostly clean, and reducing its 1.35 Gpx base cost seconds.
 */
export function reduceBand(
  band: Uint8Array,
  width: number,
  rows: number,
  dirty: Uint8Array | null = null,
  tileSize = LABEL_TILE_SIZE,
): Uint8Array {
  const w2 = Math.ceil(width / 2);
  const r2 = Math.ceil(rows / 2);
  const out = new Uint8Array(w2 * r2);
  // Skipping needs tiles an even number of pixels wide, so that no 2x2 block straddles two.
  const skip = dirty !== null && tileSize % 2 === 0;
  const half = tileSize / 2;
  const spans = skip ? dirty.length : 1;
  for (let t = 0; t < spans; t++) {
    if (skip && dirty[t] === 0) continue;
    const i0 = skip ? t * half : 0;
    const i1 = skip ? Math.min(w2, i0 + half) : w2;
    for (let j = 0; j < r2; j++) reduceRow(band, width, rows, out, j, i0, i1);
  }
  return out;
}

/** Output row j of `reduceBand`, columns [i0, i1). */
function reduceRow(band: Uint8Array, width: number, rows: number, out: Uint8Array, j: number, i0: number, i1: number) {
  const w2 = Math.ceil(width / 2);
  const top = 2 * j * width;
  const hasBottom = 2 * j + 1 < rows;
  for (let i = i0; i < i1; i++) {
    const x = 2 * i;
    const hasRight = x + 1 < width;
    // Past the raster edge there is no pixel, not a 0: repeat the block's own pixels so only
    // real ones vote (padding with 0 would erase a labelled edge column, row or corner).
    const a = band[top + x]!;
    const b = hasRight ? band[top + x + 1]! : a;
    const c = hasBottom ? band[top + width + x]! : a;
    const d = hasBottom ? (hasRight ? band[top + width + x + 1]! : c) : b;
    out[j * w2 + i] = a === b && b === c && c === d ? a : mode4(a, b, c, d);
  }
}

export function mode4(a: number, b: number, c: number, d: number): number {
  if (a === b && b === c && c === d) return a;
  // No closure here: one captured per call cost a heap context for every 2x2 block (most of an ingest's pyramid time).
  let best = a;
  let bestCount = 1 + +(a === b) + +(a === c) + +(a === d);
  if (b !== a) {
    const n = 1 + +(b === c) + +(b === d);
    if (n > bestCount || (n === bestCount && best === 0 && b !== 0)) {
      best = b;
      bestCount = n;
    }
  }
  if (c !== a && c !== b) {
    const n = 1 + +(c === d);
    if (n > bestCount || (n === bestCount && best === 0 && c !== 0)) {
      best = c;
      bestCount = n;
    }
  }
  if (d !== a && d !== b && d !== c && (1 > bestCount || (1 === bestCount && best === 0 && d !== 0))) best = d;
  return best;
}
