/**
 * Builds everything the index holds for one slide: structure (tags only), tissue estimate and
 * pixel check (smallest level), and the label raster pyramid with per-class statistics.
 */
import { createHash } from 'node:crypto';
import { deflateRawSync } from 'node:zlib';
import { DEFAULT_MAX_RASTER_WORK, DEFAULT_MAX_SLIDE_PIXELS } from '../config.js';
import type { Manifest } from '../dataset/manifest.js';
import { AppError } from '../errors.js';
import { readLevelRaw, type RawImage } from '../imaging/sharp.js';
import { openRemoteSlideFile } from '../slides/file.js';
import { objectReader } from '../storage/object-reader.js';
import type { Remote } from '../storage/open.js';
import { parseRemoteTiff } from '../storage/remote-tiff.js';
import { createBandComposer, type LoadedSource } from '../labels/compose.js';
import { loadLabelFile } from '../labels/load.js';
import { rasterWork } from '../labels/rasterize.js';
import { createPyramidBuilder, rasterGeometry, type LabelTile, type RasterGeometry } from '../labels/raster.js';
import { unsupportedReason, type ProbedCodec } from '../slides/codecs.js';
import { checkPixelBudget, slideStructure, type SlideLevel, type SlideStructure } from '../slides/structure.js';
import { readTiffFile } from '../slides/tiff.js';
import {
  detectSlideTissue,
  localLevelReader,
  markLabelled,
  tissueTiles,
  type TissueBuild,
  type TissueTiles,
} from '../tissue/build.js';
import type { SlideCandidate } from './scan.js';

export interface StoredTile {
  level: number;
  tx: number;
  ty: number;
  uniform: number | null;
  data: Buffer | null;
}

export interface ClassStats {
  value: number;
  rasterPx: number;
  /** Bounding box in raster pixels, inclusive-exclusive. */
  box: [number, number, number, number];
}

export interface SlideBuild {
  candidate: SlideCandidate;
  etag: string;
  structure: SlideStructure;
  unsupported: string | null;
  tissuePx: number | null;
  raster: RasterGeometry | null;
  sources: Array<{
    position: number;
    sourceId: string;
    format: string;
    relPath: string;
    size: number;
    shapes: number | null;
    downsample: number;
  }>;
  tiles: StoredTile[];
  counts: Array<{ value: number; tx: number; ty: number; count: number }>;
  classes: ClassStats[];
  /** Tissue detected on the slide (null only for a slide whose pixels this build cannot decode). */
  tissue: (TissueTiles & Pick<TissueBuild, 'geometry' | 'threshold' | 'inkPx'>) | null;
  /** What was indexed with a caveat (colour-mask pixels that matched no colour): reported, not fatal. */
  warnings: Array<{ relPath: string; code: string; detail: string }>;
}

/** Longest side of the image decoded to estimate tissue: ample for a percentage. */
const TISSUE_PROBE_SIZE = 1024;
/** A pixel is tissue when its saturation exceeds ~8% and it is not near-white glass. */
const TISSUE_MIN_CHROMA = 20;
const TISSUE_MAX_BRIGHTNESS = 235;

/** Work bounds of one slide: its level-0 pixels (MAX_SLIDE_PIXELS), each vector label file's rasterising (MAX_RASTER_WORK). */
export interface BuildLimits {
  maxSlidePixels?: number;
  maxRasterWork?: number;
}

/** `remote`: the dataset is in an object store (storage/open.ts); `absPath`s are then object keys. */
export async function buildSlide(
  c: SlideCandidate,
  manifest: Manifest,
  codecs: ReadonlySet<ProbedCodec>,
  limits: BuildLimits = {},
  remote: Remote | null = null,
): Promise<SlideBuild> {
  const maxSlidePixels = limits.maxSlidePixels ?? DEFAULT_MAX_SLIDE_PIXELS;
  const maxRasterWork = limits.maxRasterWork ?? DEFAULT_MAX_RASTER_WORK;
  const structure = slideStructure(remote ? await parseRemoteTiff(readerOf(c, remote)) : readTiffFile(c.file.absPath));
  checkPixelBudget(structure, maxSlidePixels);
  // A code no TIFF writer uses means a broken file, not a codec this build lacks: refuse it.
  if (structure.compression.name.startsWith('unknown'))
    throw new AppError(
      422,
      'TIFF_UNKNOWN_COMPRESSION',
      `the file declares compression ${structure.compression.code}, which is no TIFF codec`,
    );
  const unsupported =
    remote && structure.compression.code !== JPEG_COMPRESSION
      ? `stored with ${structure.compression.name}: only JPEG-tiled slides are read from object storage`
      : unsupportedReason(structure.compression, codecs);
  const etag = createHash('sha256').update(c.inputKey).digest('base64url').slice(0, 22);
  const base: SlideBuild = {
    candidate: c,
    etag,
    structure,
    unsupported,
    tissuePx: null,
    raster: null,
    sources: [],
    tiles: [],
    counts: [],
    classes: [],
    tissue: null,
    warnings: [],
  };
  if (unsupported) return base;
  const smallest = structure.levels[structure.levels.length - 1]!;
  const probe = remote
    ? await remoteLevelRaw(c, remote, smallest, TISSUE_PROBE_SIZE)
    : await readLevelRaw(c.file.absPath, smallest.ifd, TISSUE_PROBE_SIZE);
  base.tissuePx = tissuePixels(probe, structure);
  const tissue = await detectSlideTissue(
    remote
      ? (level, width, height) => remoteLevelAt(c, remote, level, { width, height })
      : localLevelReader(c.file.absPath),
    structure,
  );
  if (c.labels.length === 0) return { ...base, tissue: storedTissue(tissue) };
  const loaded: LoadedSource[] = [];
  for (const l of c.labels) {
    const src = await withContext(l.relPath, async () =>
      loadLabelFile(
        remote ? await labelBytes(remote, l.absPath) : l.absPath,
        l.size,
        l.source,
        manifest.taxonomy,
        structure,
      ),
    );
    loaded.push(src);
    if (src.unmatchedPx) base.warnings.push(unmatchedWarning(l.relPath, src.unmatchedPx, l.source.tolerance));
    base.sources.push({
      position: l.position,
      sourceId: l.source.id,
      format: l.source.format,
      relPath: l.relPath,
      size: l.size,
      shapes: src.kind === 'vector' ? src.shapes.length : null,
      downsample: src.kind === 'mask' ? src.downsample : manifest.labelDownsample,
    });
  }
  // The raster is as fine as the finest source: exact for every mask, `labelDownsample` for vectors.
  const downsample = Math.min(...base.sources.map((s) => s.downsample));
  const raster = rasterGeometry(structure.width, structure.height, downsample);
  loaded.forEach((src, k) => checkRasterWork(src, raster, c.labels[k]!.relPath, maxRasterWork));
  const built = rasterize(loaded, raster, (band, row, rows) =>
    markLabelled(tissue, raster.downsample, band, row, rows, raster.width),
  );
  return { ...base, raster, ...built, tissue: storedTissue(tissue) };
}

function storedTissue(t: TissueBuild): SlideBuild['tissue'] {
  return { geometry: t.geometry, threshold: t.threshold, inkPx: t.inkPx, ...tissueTiles(t) };
}

const JPEG_COMPRESSION = 7;

function readerOf(c: SlideCandidate, r: Remote) {
  return objectReader(r.store, c.file.absPath, c.file.etag ?? null, c.file.size, r.cache);
}

/**
 * The smallest level of a remote slide, fitted inside `maxSize`, decoded from its stored tiles
 * (libvips cannot open an object): the tissue estimate, close to the local file's.
 */
async function remoteLevelRaw(c: SlideCandidate, r: Remote, level: SlideLevel, maxSize: number): Promise<RawImage> {
  const scale = Math.min(1, maxSize / level.width, maxSize / level.height);
  return remoteLevelAt(c, r, level, {
    width: Math.max(1, Math.round(level.width * scale)),
    height: Math.max(1, Math.round(level.height * scale)),
  });
}

/** A whole stored level of a slide in the store, as raw pixels at `size`. */
async function remoteLevelAt(
  c: SlideCandidate,
  r: Remote,
  level: SlideLevel,
  size: { width: number; height: number },
): Promise<RawImage> {
  const file = await openRemoteSlideFile(readerOf(c, r), [level], { native: false });
  const crop = { left: 0, top: 0, width: level.width, height: level.height };
  return (await file.render(0, crop, size, { kind: 'raw' })) as RawImage;
}

/** A label file's bytes from the store (it was listed: gone now means it changed during the ingest). */
async function labelBytes(r: Remote, key: string): Promise<Buffer> {
  const b = await r.store.get(key, MAX_LABEL_OBJECT_BYTES);
  if (!b) throw new AppError(422, 'LABEL_FILE_GONE', 'the label file was removed from the store during the ingest');
  return b;
}

/** As the vector limit of labels/load.ts: a label object is read whole, and this bounds it. */
const MAX_LABEL_OBJECT_BYTES = 512 * 1024 * 1024;

function unmatchedWarning(relPath: string, px: number, tolerance: number): SlideBuild['warnings'][number] {
  return {
    relPath,
    code: 'MASK_COLORS_UNMATCHED',
    detail: `label file ${relPath}: ${px} pixel(s) matched no palette colour within tolerance ${tolerance}: indexed as unlabelled (0)`,
  };
}

/** Names the label file in a failure, since the slide file is what the report lists. */
async function withContext<T>(relPath: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof AppError) throw new AppError(e.status, e.code, `label file ${relPath}: ${e.detail}`);
    throw e;
  }
}

/** Refuses a vector file whose rasterising would cost more than the budget, before any of it runs. */
function checkRasterWork(src: LoadedSource, g: RasterGeometry, relPath: string, maxWork: number): void {
  if (src.kind !== 'vector') return;
  const work = rasterWork(src.shapes, g.downsample, g.width, g.height, g.tileSize);
  if (work > maxWork) {
    throw new AppError(
      422,
      'LABEL_TOO_COMPLEX',
      `label file ${relPath}: rasterising its shapes takes ${work} units of work (edges, edge-row toggles, bounding-box pixels), more than MAX_RASTER_WORK (${maxWork}); simplify the shapes`,
    );
  }
}

/** `onBand` sees each composed band of the base level (the tissue raster marks what labels cover). */
function rasterize(
  sources: LoadedSource[],
  g: RasterGeometry,
  onBand: (band: Uint8Array, row: number, rows: number) => void,
): Pick<SlideBuild, 'tiles' | 'counts' | 'classes'> {
  const tiles: StoredTile[] = [];
  const counts: SlideBuild['counts'] = [];
  const stats = new Map<number, ClassStats>();
  const builder = createPyramidBuilder(g, (t) => {
    tiles.push({
      level: t.level,
      tx: t.tx,
      ty: t.ty,
      uniform: t.uniform,
      data: t.data ? deflateRawSync(t.data, { level: 4 }) : null,
    });
    if (t.level === 0) collectStats(t, g, counts, stats);
  });
  const composer = createBandComposer(sources, g.width, g.downsample, g.tileSize);
  const band = new Uint8Array(g.width * g.tileSize);
  const dirty = new Uint8Array(Math.ceil(g.width / g.tileSize));
  for (let row = 0; row < g.height; row += g.tileSize) {
    const rows = Math.min(g.tileSize, g.height - row);
    composer.compose(band, row, rows, dirty);
    onBand(band, row, rows);
    builder.pushBand(band, rows, dirty);
  }
  builder.finish();
  return { tiles, counts, classes: [...stats.values()].sort((a, b) => a.value - b.value) };
}

function collectStats(
  t: LabelTile,
  g: RasterGeometry,
  counts: SlideBuild['counts'],
  stats: Map<number, ClassStats>,
): void {
  const ts = g.tileSize;
  const x0 = t.tx * ts;
  const y0 = t.ty * ts;
  const w = Math.min(ts, g.width - x0);
  const h = Math.min(ts, g.height - y0);
  const grow = (v: number, box: [number, number, number, number], n: number) => {
    const s = stats.get(v) ?? {
      value: v,
      rasterPx: 0,
      box: [Infinity, Infinity, -Infinity, -Infinity] as [number, number, number, number],
    };
    s.rasterPx += n;
    s.box = [
      Math.min(s.box[0], box[0]),
      Math.min(s.box[1], box[1]),
      Math.max(s.box[2], box[2]),
      Math.max(s.box[3], box[3]),
    ];
    stats.set(v, s);
  };
  for (let v = 1; v < 256; v++) {
    const n = t.counts![v]!;
    if (n > 0) counts.push({ value: v, tx: t.tx, ty: t.ty, count: n });
  }
  if (t.uniform !== null) {
    if (t.uniform !== 0) grow(t.uniform, [x0, y0, x0 + w, y0 + h], w * h);
    return;
  }
  const boxes = new Map<number, [number, number, number, number]>();
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) {
      const v = t.data![r * ts + c]!;
      if (v === 0) continue;
      const b = boxes.get(v);
      if (!b) boxes.set(v, [c, r, c + 1, r + 1]);
      else {
        if (c < b[0]) b[0] = c;
        if (c + 1 > b[2]) b[2] = c + 1;
        b[3] = r + 1;
      }
    }
  }
  for (const [v, b] of boxes) grow(v, [x0 + b[0], y0 + b[1], x0 + b[2], y0 + b[3]], t.counts![v]!);
}

/** Tissue estimate from the smallest level, scaled to level-0 pixels. */
function tissuePixels(
  img: { data: Buffer; width: number; height: number; channels: number },
  s: SlideStructure,
): number {
  let tissue = 0;
  const n = img.width * img.height;
  for (let p = 0, o = 0; p < n; p++, o += img.channels) {
    const r = img.data[o]!;
    const g = img.data[o + 1]!;
    const b = img.data[o + 2]!;
    const max = Math.max(r, g, b);
    const min = Math.min(r, g, b);
    if (max - min > TISSUE_MIN_CHROMA && min < TISSUE_MAX_BRIGHTNESS) tissue++;
  }
  return Math.round((tissue / n) * s.width * s.height);
}
