/**
 * From TIFF directories to a slide's pyramid (pure: no I/O).
 *
 * Levels are the *tiled* directories, largest first: Camelyon16 (ASAP) chains its levels as
 * top-level IFDs with NewSubfileType 1, Aperio marks levels 0 and its label 1, so the subfile
 * type cannot tell levels from associated images; tiling and aspect ratio can (labels, macros
 * and thumbnails are stored as strips).
 */
import { invalidInput } from '../errors.js';
import { compressionInfo, type CompressionInfo } from './codecs.js';
import { TAG, type Ifd, type TiffFile } from './tiff.js';

export interface SlideLevel {
  /** Position of the directory in the file: sharp's `page`. */
  ifd: number;
  width: number;
  height: number;
  /** Level-0 pixels per pixel of this level, averaged over both axes as OpenSlide does. */
  downsample: number;
  tileWidth: number;
  tileHeight: number;
}

export interface SlideStructure {
  format: 'generic-tiff' | 'aperio';
  bigTiff: boolean;
  width: number;
  height: number;
  levels: SlideLevel[];
  /** Micrometres per level-0 pixel, or null when the file does not say. */
  mppX: number | null;
  mppY: number | null;
  compression: CompressionInfo;
  photometric: string;
  description: string | null;
}

const PHOTOMETRIC: Record<number, string> = {
  0: 'min-is-white',
  1: 'min-is-black',
  2: 'rgb',
  3: 'palette',
  6: 'ycbcr',
};
/**
 * The largest tile side indexed: Camelyon16 tiles are 512 px, Aperio's 240. The native decoder
 * refuses frames beyond 4096 x 4096 (native/jpeg-region), so larger tiles could not be served.
 */
export const MAX_TILE_SIDE = 4096;
/**
 * The smallest level is decoded whole (the tissue estimate at ingest, thumbnails): a slide
 * without a pyramid down to this size makes every one of them decode the whole slide (a
 * single-level 200k x 200k slide took 160 s and 1.5 GB at ingest). An Aperio scan with only 1x
 * and 4x levels has ~0.5 Gpx at 4x.
 */
export const MAX_SMALLEST_LEVEL_PIXELS = 2 ** 30;
/** Associated images can be tiled in some files; a level must keep level 0's aspect ratio. */
const ASPECT_TOLERANCE = 0.02;

export function slideStructure(tiff: TiffFile): SlideStructure {
  const tiled = tiff.ifds.filter((d) => d.num.has(TAG.TileWidth) && d.num.has(TAG.TileLength));
  if (tiled.length === 0)
    throw invalidInput('NOT_TILED', 'the file has no tiled image: whole-slide images store their levels as tiles');
  tiled.sort((a, b) => dim(b, TAG.ImageWidth) - dim(a, TAG.ImageWidth));
  const first = tiled[0]!;
  const width = dim(first, TAG.ImageWidth);
  const height = dim(first, TAG.ImageLength);
  if (width < 1 || height < 1) throw invalidInput('TIFF_BAD_IFD', 'level 0 has no pixels');
  const levels: SlideLevel[] = [];
  for (const d of tiled) {
    const w = dim(d, TAG.ImageWidth);
    const h = dim(d, TAG.ImageLength);
    if (w < 1 || h < 1) continue;
    if (Math.abs(w / h - width / height) > ASPECT_TOLERANCE * (width / height) + 2 / h) continue;
    if (levels.length > 0 && levels[levels.length - 1]!.width === w) continue;
    const tileWidth = dim(d, TAG.TileWidth);
    const tileHeight = dim(d, TAG.TileLength);
    // Tile sizes divide every tile address computation downstream: 0 cannot be served.
    if (tileWidth < 1 || tileHeight < 1)
      throw invalidInput(
        'TIFF_BAD_IFD',
        `image directory ${d.index} declares ${tileWidth} x ${tileHeight} pixel tiles`,
      );
    if (tileWidth > MAX_TILE_SIDE || tileHeight > MAX_TILE_SIDE) {
      const what = `image directory ${d.index} declares ${tileWidth} x ${tileHeight} pixel tiles`;
      throw invalidInput('TIFF_TILE_TOO_LARGE', `${what}: at most ${MAX_TILE_SIDE} a side are served`);
    }
    // Every tile of the grid needs an offset and a byte count, or tile addresses run off the index.
    const grid = Math.ceil(w / tileWidth) * Math.ceil(h / tileHeight);
    const offsets = d.arrays.get(TAG.TileOffsets)?.length ?? 0;
    const counts = d.arrays.get(TAG.TileByteCounts)?.length ?? 0;
    if (Math.min(offsets, counts) < grid)
      throw invalidInput(
        'TIFF_BAD_IFD',
        `image directory ${d.index} indexes ${Math.min(offsets, counts)} tiles for a grid of ${grid}`,
      );
    levels.push({ ifd: d.index, width: w, height: h, downsample: (width / w + height / h) / 2, tileWidth, tileHeight });
  }
  const description = first.text.get(TAG.ImageDescription) ?? null;
  const aperio = description !== null && description.startsWith('Aperio');
  const mpp = aperio ? aperioMpp(description) : resolutionMpp(first);
  return {
    format: aperio ? 'aperio' : 'generic-tiff',
    bigTiff: tiff.bigTiff,
    width,
    height,
    levels,
    mppX: mpp?.[0] ?? null,
    mppY: mpp?.[1] ?? null,
    compression: compressionInfo(first.num.get(TAG.Compression) ?? 1),
    photometric: PHOTOMETRIC[first.num.get(TAG.Photometric) ?? -1] ?? `code ${first.num.get(TAG.Photometric)}`,
    description,
  };
}

/**
 * Refuses, from its structure alone, a slide whose ingest and serving would cost out of
 * proportion: level 0 beyond `maxSlidePixels` (MAX_SLIDE_PIXELS), or no pyramid level small enough
 * to decode whole.
 */
export function checkPixelBudget(s: SlideStructure, maxSlidePixels: number): void {
  const pixels = s.width * s.height;
  if (pixels > maxSlidePixels) {
    const what = `level 0 is ${s.width} x ${s.height} = ${pixels} pixels`;
    throw invalidInput('SLIDE_TOO_LARGE', `${what}, more than MAX_SLIDE_PIXELS (${maxSlidePixels})`);
  }
  const smallest = s.levels[s.levels.length - 1]!;
  const smallestPixels = smallest.width * smallest.height;
  if (smallestPixels > MAX_SMALLEST_LEVEL_PIXELS) {
    const what = `the smallest level is ${smallest.width} x ${smallest.height} = ${smallestPixels} pixels`;
    const why = 'thumbnails and the tissue estimate decode it whole';
    throw invalidInput(
      'SLIDE_NO_PYRAMID',
      `${what}: ${why}, so a level of at most ${MAX_SMALLEST_LEVEL_PIXELS} pixels is needed`,
    );
  }
}

function dim(d: Ifd, tag: number): number {
  return d.num.get(tag) ?? 0;
}

/** Aperio writes "... |MPP = 0.4990|..." in ImageDescription. */
function aperioMpp(description: string): [number, number] | null {
  const m = /\|\s*MPP\s*=\s*([0-9.]+)/.exec(description);
  const v = m ? Number(m[1]) : NaN;
  return Number.isFinite(v) && v > 0 ? [v, v] : null;
}

/** Resolution tags: unit 3 = centimetre, 2 = inch; unit 1 (none) says nothing about size. */
function resolutionMpp(d: Ifd): [number, number] | null {
  const unit = d.num.get(TAG.ResolutionUnit) ?? 2;
  const um = unit === 3 ? 10_000 : unit === 2 ? 25_400 : 0;
  const xr = d.num.get(TAG.XResolution) ?? 0;
  const yr = d.num.get(TAG.YResolution) ?? xr;
  if (um === 0 || !(xr > 0) || !(yr > 0)) return null;
  const mx = um / xr;
  const my = um / yr;
  // Below 0.05 um/px or above 100 um/px is not a microscope scan: a placeholder (e.g. 72 dpi).
  if (mx < 0.05 || mx > 100) return null;
  return [mx, my];
}
