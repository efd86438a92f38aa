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
  /** A number k: a tile still in the slide file, `ranges[2k]` offset, `ranges[2k + 1]` bytes of `fd`. */
  tiles: Array<Buffer | number | null>;
  fd: number | null;
  prefix: Buffer | null;
  ranges: Float64Array | null;
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
/** A FileTile the job read short, or whose bytes are not JPEG: the slide's 503, as file.ts reads answer it. */
const DAMAGED = 'SLIDE_DAMAGED';

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

/** A stored tile still in the slide file (`grid.file`): the job reads it itself. */
export interface FileTile {
  offset: number;
  length: number;
}

/**
 * Stored tiles laid out `across` per row: complete JPEG streams, decoded tiles (copied, not
 * decoded again), tiles in `file` (read in the decoder's job: one trip to the thread pool for a
 * region, no JS buffers), or null (sparse, shown white).
 */
export interface TileGrid {
  tiles: Array<Buffer | DecodedTile | FileTile | null>;
  across: number;
  tileWidth: number;
  tileHeight: number;
  /**
   * The open slide file of FileTiles, kept open by the caller until the job settles, and what goes
   * before each tile's bytes after its SOI (SOI, an Adobe segment for RGB tiles, the shared tables).
   */
  file?: { fd: number; prefix: Buffer };
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
export function decodeGrid(grid: TileGrid, crop: Crop, size: Size = crop): Promise<RawImage> {
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
export async function encodeGrid(grid: TileGrid, crop: Crop, quality: number, size: Size = crop): Promise<Buffer> {
  const jpeg = await run(grid, crop, null, quality, size);
  if (!jpeg) throw new Error('native JPEG encoder returned nothing');
  return jpeg;
}

/**
 * Rejects with the decoder's reason when a tile is not decodable here (corrupt, truncated, CMYK):
 * callers fall back to libvips, which decides whether it is an error. A tile whose header claims
 * more than a tile of the grid may hold rejects with AppError 503 (REFUSALS) instead. Arguments it
 * refuses (a crop outside the tiles, a bad quality) reject with a RangeError or TypeError.
 */
function run(grid: TileGrid, crop: Crop, out: Buffer | null, quality: number, size: Size): Promise<Buffer | undefined> {
  const a = addon;
  if (!a) return Promise.reject(new Error(status.reason ?? 'native JPEG decoder unavailable'));
  let flags: Uint8Array | null = null;
  const ranges: number[] = [];
  const holder = grid.tiles.map((t, i) => {
    if (t === null || Buffer.isBuffer(t)) return t;
    if ('offset' in t) {
      ranges.push(t.offset, t.length);
      return ranges.length / 2 - 1;
    }
    (flags ??= new Uint8Array(grid.tiles.length))[i] = 1;
    return t.rgb;
  });
  const { across, tileWidth, tileHeight } = grid;
  const inFile = ranges.length > 0 && grid.file;
  const job: RegionJob = {
    tiles: holder,
    fd: inFile ? grid.file!.fd : null,
    prefix: inFile ? grid.file!.prefix : null,
    ranges: inFile ? Float64Array.from(ranges) : null,
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
      else if (err.code === DAMAGED) reject(new AppError(503, DAMAGED, err.message));
      else if (!err.code || !REFUSALS.has(err.code)) reject(err);
      else reject(new AppError(503, err.code, `a stored tile of this slide cannot be served: ${err.message}`));
    });
  });
}
