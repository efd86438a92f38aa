/**
 * The tissue raster of a slide at ingest: one stored level near TISSUE_TARGET_UM decoded through
 * the sharp wrapper, detected (detect.ts), then marked where a label covers it and cut into the
 * same tiled pyramid as the label raster (labels/raster.ts), stored beside it.
 *
 * Values: 0 = glass (or ink), 1 = tissue no label covers (`unlabelled-tissue`), 2 = tissue under
 * a label. `tissue` is 1 or 2. A tissue pixel counts as labelled when the label raster pixel
 * under its centre has a class: the same nearest-neighbour rule the mask tiles use.
 */
import { deflateRawSync } from 'node:zlib';
import { readLevelRaw, readLevelResized, type RawImage } from '../imaging/sharp.js';
import { createPyramidBuilder, rasterGeometry, type RasterGeometry } from '../labels/raster.js';
import type { SlideLevel, SlideStructure } from '../slides/structure.js';
import { detectTissue } from './detect.js';
import { TISSUE_LABELLED, TISSUE_UNLABELLED } from './selectors.js';

/** Micrometres per pixel the tissue is detected at: enough for tissue outlines, cheap to decode. */
export const TISSUE_TARGET_UM = 8;
/** A small slide keeps at least this many pixels on its long side (a finer raster than 8 um/px). */
const MIN_LONG_SIDE = 256;
/** The largest level decoded for detection (a pyramid without a level near 8 um/px uses its smallest). */
const MAX_DECODE_PX = 2 ** 26;

export interface TissueBuild {
  geometry: RasterGeometry;
  /** Values 0, 1, 2 as above; width x height of the geometry. */
  mask: Uint8Array;
  threshold: number;
  inkPx: number;
}

export interface TissueTiles {
  tiles: Array<{ level: number; tx: number; ty: number; uniform: number | null; data: Buffer | null }>;
  counts: Array<{ value: number; tx: number; ty: number; count: number }>;
  /** Raster pixels of tissue (1 or 2) and of unlabelled tissue (1). */
  tissuePx: number;
  unlabelledPx: number;
}

/** Level-0 pixels per tissue raster pixel. */
export function tissueDownsample(s: Pick<SlideStructure, 'width' | 'height' | 'mppX'>): number {
  const target = s.mppX ? TISSUE_TARGET_UM / s.mppX : 32;
  return Math.max(1, Math.min(target, Math.max(s.width, s.height) / MIN_LONG_SIDE));
}

/** The coarsest stored level not coarser than the raster (no upsampling) and small enough to decode. */
export function tissueLevel(levels: readonly SlideLevel[], downsample: number): SlideLevel {
  let best: SlideLevel | null = null;
  for (const l of levels) {
    if (l.downsample <= downsample * 1.01 && l.width * l.height <= MAX_DECODE_PX) best = l;
  }
  return best ?? levels[levels.length - 1]!;
}

/** Reads a stored level as raw pixels at a size (the level's own, or resampled to it). */
export type LevelReader = (level: SlideLevel, width: number, height: number) => Promise<RawImage>;

/** A local slide file's levels, through the sharp wrapper. */
export function localLevelReader(path: string): LevelReader {
  return (level, width, height) =>
    level.width === width && level.height === height
      ? readLevelRaw(path, level.ifd, Math.max(width, height))
      : readLevelResized(path, level.ifd, width, height);
}

export async function detectSlideTissue(read: LevelReader, s: SlideStructure): Promise<TissueBuild> {
  const target = tissueDownsample(s);
  const level = tissueLevel(s.levels, target);
  // A stored level within 10% of the target is taken as it is (Camelyon16's 32x for 7.9 um/px):
  // no resampling, which cost as much as the detection itself on a Camelyon16-size slide.
  const ds = level.downsample >= target / 1.1 ? level.downsample : target;
  const geometry = rasterGeometry(s.width, s.height, ds);
  const img = await read(level, geometry.width, geometry.height);
  const r = detectTissue(img, { umPerPixel: s.mppX ? ds * s.mppX : null });
  return { geometry, mask: r.mask, threshold: r.threshold, inkPx: r.inkPx };
}

/**
 * Marks tissue pixels whose centre lies on a labelled pixel of one band of the label raster
 * (rows [rowStart, rowStart + rows) of a raster `labelWidth` wide at `labelDs`).
 */
export function markLabelled(
  t: TissueBuild,
  labelDs: number,
  band: Uint8Array,
  rowStart: number,
  rows: number,
  labelWidth: number,
): void {
  const { width, height, downsample: dt } = t.geometry;
  const col = new Int32Array(width);
  for (let i = 0; i < width; i++) col[i] = Math.min(labelWidth - 1, Math.floor(((i + 0.5) * dt) / labelDs));
  // Rows map to label rows in increasing order: start just before the band (the check stays), stop after it.
  for (let j = Math.max(0, Math.floor((rowStart * labelDs) / dt) - 1); j < height; j++) {
    const ly = Math.floor(((j + 0.5) * dt) / labelDs);
    if (ly < rowStart) continue;
    if (ly >= rowStart + rows) break;
    const src = (ly - rowStart) * labelWidth;
    const dst = j * width;
    for (let i = 0; i < width; i++) {
      if (t.mask[dst + i] === TISSUE_UNLABELLED && band[src + col[i]!] !== 0) t.mask[dst + i] = TISSUE_LABELLED;
    }
  }
}

/** The tissue raster as stored tiles (deflated like label tiles) with per-tile counts of 1 and 2. */
export function tissueTiles(t: TissueBuild): TissueTiles {
  const g = t.geometry;
  const out: TissueTiles = { tiles: [], counts: [], tissuePx: 0, unlabelledPx: 0 };
  const builder = createPyramidBuilder(g, (tile) => {
    out.tiles.push({
      level: tile.level,
      tx: tile.tx,
      ty: tile.ty,
      uniform: tile.uniform,
      data: tile.data ? deflateRawSync(tile.data, { level: 4 }) : null,
    });
    if (tile.level !== 0) return;
    // Level-0 tiles count their own values (inside the raster); a tile of glass alone is not emitted.
    out.tissuePx += tile.counts![TISSUE_UNLABELLED]! + tile.counts![TISSUE_LABELLED]!;
    out.unlabelledPx += tile.counts![TISSUE_UNLABELLED]!;
    for (const v of [TISSUE_UNLABELLED, TISSUE_LABELLED]) {
      const n = tile.counts![v]!;
      if (n > 0) out.counts.push({ value: v, tx: tile.tx, ty: tile.ty, count: n });
    }
  });
  const ts = g.tileSize;
  // Every tile column is cut and counted (tissue covers most of them): a separate pass finding the
  // clean ones would read every pixel once more.
  const dirty = new Uint8Array(Math.ceil(g.width / ts)).fill(1);
  for (let row = 0; row < g.height; row += ts) {
    const rows = Math.min(ts, g.height - row);
    builder.pushBand(t.mask.subarray(row * g.width, (row + rows) * g.width), rows, dirty);
  }
  builder.finish();
  return out;
}
