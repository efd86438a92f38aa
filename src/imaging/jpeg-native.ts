/**
 * The one place the service talks to its native JPEG region decoder (native/jpeg-region, a small
 * N-API addon over the system's libjpeg-turbo). It decodes only the part of each stored tile that a
 * region covers (jpeg_crop_scanline, jpeg_skip_scanlines, stop after the last row), on the libuv
 * thread pool, and can encode the result as JPEG in the same job. Pixels are bit-identical to
 * libvips decoding the whole tiles (tested); libvips stays the path for everything else and the
 * fallback when the addon is missing (no compiler or libjpeg headers at install) or disabled.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AppError } from '../errors.js';
import type { Crop, RawImage } from './sharp.js';

/** One job of the addon (see native/jpeg-region/src/jpeg_region.c for the rules it checks). */
interface RegionJob {
  tiles: Array<Buffer | null> | undefined;
  /** Instead of tiles: the job reads them itself (see FileGrid). */
  file: { fd: number; ranges: Float64Array; prefix: Buffer } | undefined;
  across: number;
  tileWidth: number;
  tileHeight: number;
  left: number;
  top: number;
  width: number;
  height: number;
  /** The answer's size: the region is resampled (Lanczos-3) to it when it differs. */
  outWidth: number;
  outHeight: number;
  /** 0: raw RGB into `out`; 1..100: JPEG at that quality. */
  quality: number;
  out: Buffer | null;
  decoded: Uint8Array | null;
}

interface Addon {
  renderRegion(job: RegionJob, done: (err: (Error & { code?: string }) | null, jpeg?: Buffer) => void): void;
  libjpegTurboVersion: number;
}

/**
 * Tiles the addon refuses because of what they claim (a frame beyond the TIFF tile size or the
 * absolute cap, too many progressive scans): libvips would allocate just as much, so these are
 * answered, not handed to it.
 */
const REFUSALS = new Set(['TILE_TOO_LARGE', 'TILE_TOO_MANY_SCANS']);
/** What a job reading a file finds wrong with it: a damaged slide, as when the service reads it (slides/file.ts). */
const DAMAGE = new Set(['SLIDE_TRUNCATED', 'SLIDE_NOT_JPEG']);

export interface NativeJpegStatus {
  available: boolean;
  /** libjpeg-turbo's version, when available. */
  libjpegTurbo?: string;
  /** Why not, when unavailable. */
  reason?: string;
}

const BINARY = 'native/jpeg-region/build/Release/jpeg_region.node';

let addon: Addon | null = null;
let status: NativeJpegStatus;

/** The repository (or image) root: the folder above src/ or dist/. */
function root(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..');
}

function load(): void {
  const path = join(root(), BINARY);
  if (!existsSync(path)) {
    status = {
      available: false,
      reason: `${BINARY} is not built (npm install builds it; it needs g++, make and libjpeg62-turbo-dev)`,
    };
    return;
  }
  try {
    addon = createRequire(import.meta.url)(path) as Addon;
    const v = addon.libjpegTurboVersion;
    status = { available: true, libjpegTurbo: `${Math.floor(v / 1e6)}.${Math.floor(v / 1e3) % 1e3}.${v % 1e3}` };
  } catch (e) {
    addon = null;
    status = { available: false, reason: `${BINARY} does not load: ${(e as Error).message.split('\n')[0] ?? ''}` };
  }
}
load();

export function nativeJpegStatus(): NativeJpegStatus {
  return status;
}

/** A whole stored tile already decoded: RGB, tileWidth x tileHeight (from a cache). */
export interface DecodedTile {
  rgb: Buffer;
}

/**
 * Stored tiles laid out `across` per row: complete JPEG streams, decoded tiles (copied, not
 * decoded again), or null (sparse, shown white).
 */
export interface TileGrid {
  tiles: Array<Buffer | DecodedTile | null>;
  across: number;
  tileWidth: number;
  tileHeight: number;
}

/**
 * Stored tiles the job reads itself, with positioned reads on the pool thread that decodes them: one
 * pool job a region instead of a read per tile and then a decode (the caller keeps `fd` open until
 * the job settles). A tile's stream is `prefix` (SOI, [Adobe], the shared JPEGTables: what
 * slides/file.ts spliceJpeg puts before a tile) and the stored bytes after their SOI.
 */
export interface FileGrid {
  fd: number;
  /** (offset, length) of each tile in the file, `across` per row; length 0: sparse (white). */
  ranges: Float64Array;
  prefix: Buffer;
  across: number;
  tileWidth: number;
  tileHeight: number;
}

export type Size = { width: number; height: number };

/** The most a side is shrunk (input/output) or grown by the native resampler (native/jpeg-region/src/resample.h). */
const MAX_SHRINK = 4;
const MAX_GROW = 2;

/**
 * Whether the native resampler can take `crop` to `size` (the addon is loaded and the ratios are
 * within its bounds). Every region resized from decoded JPEG tiles goes through it when it can, so
 * the native decoder and the libvips fallback resample alike (tested): one filter, one set of pixels.
 */
export function nativeResamples(crop: Size, size: Size): boolean {
  const fits = (from: number, to: number) => from <= to * MAX_SHRINK && to <= from * MAX_GROW;
  return addon !== null && fits(crop.width, size.width) && fits(crop.height, size.height);
}

/** The `crop` of the grid (origin: the first tile's top-left) as RGB, resampled to `size` (default: the crop's). */
export function decodeGrid(grid: TileGrid | FileGrid, crop: Crop, size: Size = crop): Promise<RawImage> {
  const out = Buffer.allocUnsafe(size.width * size.height * 3);
  return run(grid, crop, out, 0, size).then(() => ({ data: out, ...size, channels: 3 }));
}

/** RGB pixels resampled to `size` with the native resampler (check nativeResamples first). */
export function resampleRaw(img: RawImage, size: Size): Promise<RawImage> {
  if (img.channels !== 3) return Promise.reject(new TypeError('resampleRaw: RGB expected'));
  const grid: TileGrid = { tiles: [{ rgb: img.data }], across: 1, tileWidth: img.width, tileHeight: img.height };
  return decodeGrid(grid, { left: 0, top: 0, width: img.width, height: img.height }, size);
}

/**
 * The `crop` of the grid as a baseline JPEG of that quality (4:2:0, standard Huffman tables:
 * ~5% larger than optimised ones, a third faster), resampled to `size` when it differs from the
 * crop's, decoded and encoded in one thread-pool job
 * whose canvas never becomes a JS buffer.
 */
export async function encodeGrid(
  grid: TileGrid | FileGrid,
  crop: Crop,
  quality: number,
  size: Size = crop,
): Promise<Buffer> {
  const jpeg = await run(grid, crop, null, quality, size);
  if (!jpeg) throw new Error('native JPEG encoder returned nothing');
  return jpeg;
}

/**
 * Rejects with the decoder's reason when a tile is not decodable here (corrupt, truncated, CMYK):
 * callers fall back to libvips, which decides whether it is an error. A tile whose header claims
 * more than a tile of the grid may hold rejects with AppError 503 (REFUSALS) instead. Arguments it
 * refuses (a crop outside the tiles, a bad quality) reject with a RangeError or TypeError. A FileGrid
 * whose file ends before a tile, or whose tile is not JPEG, rejects with AppError 503 SLIDE_DAMAGED.
 */
function run(
  grid: TileGrid | FileGrid,
  crop: Crop,
  out: Buffer | null,
  quality: number,
  size: Size,
): Promise<Buffer | undefined> {
  const a = addon;
  if (!a) return Promise.reject(new Error(status.reason ?? 'native JPEG decoder unavailable'));
  let flags: Uint8Array | null = null;
  let holder: Array<Buffer | null> | undefined;
  if ('tiles' in grid)
    holder = grid.tiles.map((t, i) => {
      if (t === null || Buffer.isBuffer(t)) return t;
      (flags ??= new Uint8Array(grid.tiles.length))[i] = 1;
      return t.rgb;
    });
  const { across, tileWidth, tileHeight } = grid;
  const job: RegionJob = {
    tiles: holder,
    file: 'ranges' in grid ? { fd: grid.fd, ranges: grid.ranges, prefix: grid.prefix } : undefined,
    across,
    tileWidth,
    tileHeight,
    ...crop,
    outWidth: size.width,
    outHeight: size.height,
    quality,
    out,
    decoded: flags,
  };
  // A synchronous throw (bad options) rejects the promise too.
  return new Promise((resolve, reject) => {
    a.renderRegion(job, (err, jpeg) => {
      if (!err) resolve(jpeg);
      else if (err.code && DAMAGE.has(err.code)) reject(new AppError(503, 'SLIDE_DAMAGED', err.message));
      else if (!err.code || !REFUSALS.has(err.code)) reject(err);
      else reject(new AppError(503, err.code, `a stored tile of this slide cannot be served: ${err.message}`));
    });
  });
}
