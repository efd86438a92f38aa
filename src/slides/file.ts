/**
 * An open slide: file descriptor plus the tile index of every level, parsed once, so a stored
 * tile costs one pread. JPEG tiles are returned as complete JPEG files (the TIFF's shared
 * JPEGTables spliced in) for passthrough. Regions of JPEG slides are decoded by the native region
 * decoder (only the part of each tile they cover; JPEG output encoded in the same job), or, when
 * it is off or cannot read a tile, by joining the tiles in one libvips pipeline.
 */
import { closeSync, fstatSync, openSync, read, readSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { AppError } from '../errors.js';
import {
  decodeGrid,
  encodeGrid,
  nativeResamples,
  resampleRaw,
  type FileGrid,
  type TileGrid,
} from '../imaging/jpeg-native.js';
import { blankJpeg, renderRaw, renderRegion, type Crop, type RawImage, type RegionOutput } from '../imaging/sharp.js';
import { frameFits, jpegFrame } from './jpeg-frame.js';
import { parseRemoteTiff } from '../storage/remote-tiff.js';
import type { ObjectReader } from '../storage/object-reader.js';
import type { ByteRange } from '../storage/store.js';
import { TAG, parseTiff, type TiffFile } from './tiff.js';

export interface SourceLevel {
  ifd: number;
  width: number;
  height: number;
  tileWidth: number;
  tileHeight: number;
}

export interface SlideFile {
  levels: readonly SourceLevel[];
  /** Whether stored tiles are JPEG and can be passed through. */
  jpeg: boolean;
  /** A stored tile as a standalone JPEG file, or null when it is sparse (offset or size 0). */
  jpegTile(level: number, tx: number, ty: number): Promise<Buffer | null>;
  /**
   * A rectangle of a slide level (inside the level: the caller clips), resized to `size` and
   * encoded (or raw RGB), in one pipeline.
   */
  render(
    level: number,
    crop: Crop,
    size: { width: number; height: number },
    out: RegionOutput,
  ): Promise<Buffer | RawImage>;
  close(): void;
}

/**
 * Whole decoded stored tiles, for overlapping reads: neighbouring 254 px tiles, or patches of a
 * sliding window, share the 512 px tiles under them. A stored tile's first use decodes only the
 * part needed; a second use while it is still remembered decodes it whole and keeps it (bounded
 * by bytes); later uses copy from it. Random reads rarely come back to a tile, and pay little.
 */
export interface DecodedTiles {
  get(key: string): Buffer | undefined;
  /** Whether `key` was used recently; remembers it. */
  seen(key: string): boolean;
  /** Decodes and keeps a tile; requests for the same tile while it decodes share the one decode. */
  fill(key: string, decode: () => Promise<Buffer>): Promise<Buffer>;
}

export interface SourceOptions {
  /** Decode JPEG regions with the native region decoder (when it is built). */
  native: boolean;
  /** Shared cache of decoded stored tiles (native decoder only). */
  decoded?: DecodedTiles;
  /** Without `decoded`: a cache for the tiles of the coarse levels only, from `fromLevel` on (native decoder only). */
  coarse?: { tiles: DecodedTiles; fromLevel: number };
  /** Told when the native decoder could not read a region and libvips was used instead. */
  onNativeFallback?: (reason: string) => void;
}

interface LevelIndex extends SourceLevel {
  across: number;
  offsets: Float64Array;
  counts: Float64Array;
  tables: Buffer | null;
  rgb: boolean;
  compression: number;
  /** What goes before a tile's bytes after their SOI (jpegPrefix): for joinTile and the native job that reads them. */
  prefix: Buffer;
}

const JPEG_COMPRESSION = 7;

/** Distinguishes open sources in the shared decoded-tile cache (a re-opened slide is a new source). */
let sourceCount = 0;

/** Blank tiles by size, shared: a sparse (never written) tile shows white glass. */
const blanks = new Map<string, Promise<Buffer>>();
/** APP14 "Adobe" segment with transform 0: tells decoders the components are RGB, not YCbCr. */
const ADOBE_RGB = Buffer.from([
  0xff, 0xee, 0x00, 0x0e, 0x41, 0x64, 0x6f, 0x62, 0x65, 0x00, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00,
]);

/**
 * The bytes under a slide: a local file's descriptor (synchronous preads, as always) or an object
 * in a store (coalesced ranged GETs through the range cache, see storage/object-reader.ts).
 */
export interface SlideBytes {
  size: number;
  /** The ranges' bytes, in order; a local file answers at once. */
  read(ranges: readonly ByteRange[]): Buffer[] | Promise<Buffer[]>;
  /**
   * A local file's descriptor lent to `use` (kept open until its promise settles), for a native job
   * that reads the tiles itself; null when there is none (an object in a store, a closed file).
   */
  withFd?<T>(use: (fd: number) => Promise<T>): Promise<T> | null;
  close(): void;
}

export function openSlideFile(
  path: string,
  levels: readonly SourceLevel[],
  opts: SourceOptions = { native: true },
): SlideFile {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const tiff = parseSlide(fd, size, levels);
    return slideFileOf(localBytes(path, fd, size), tiff, levels, opts, path);
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

/** A slide read from an object store: directories from a few ranged GETs, tiles from coalesced ones. */
export async function openRemoteSlideFile(
  reader: ObjectReader,
  levels: readonly SourceLevel[],
  opts: SourceOptions = { native: true },
): Promise<SlideFile> {
  let tiff: TiffFile;
  try {
    tiff = await parseRemoteTiff(reader, openLimits(levels));
  } catch (e) {
    if (e instanceof AppError && e.status === 422)
      throw new AppError(503, 'SLIDE_DAMAGED', `the slide object no longer parses (${e.code}: ${e.detail})`);
    throw e;
  }
  const bytes: SlideBytes = { size: reader.size, read: (ranges) => reader.read(ranges), close: () => {} };
  return slideFileOf(bytes, tiff, levels, opts, null);
}

function levelIndex(tiff: TiffFile, levels: readonly SourceLevel[]): LevelIndex[] {
  return levels.map((l) => {
    const d = tiff.ifds[l.ifd];
    const offsets = d?.arrays.get(TAG.TileOffsets);
    const counts = d?.arrays.get(TAG.TileByteCounts);
    if (!d || !offsets || !counts)
      throw new AppError(503, 'SLIDE_CHANGED', 'the slide file no longer has the structure it was indexed with');
    const tables = d.bytes.get(TAG.JPEGTables) ?? null;
    const rgb = d.num.get(TAG.Photometric) === 2;
    return {
      ...l,
      across: Math.ceil(l.width / l.tileWidth),
      offsets,
      counts,
      tables,
      rgb,
      compression: d.num.get(TAG.Compression) ?? 1,
      prefix: jpegPrefix(tables, rgb),
    };
  });
}

/** `path`: the local file libvips reads non-JPEG slides from; null for an object in a store. */
function slideFileOf(
  bytes: SlideBytes,
  tiff: TiffFile,
  levels: readonly SourceLevel[],
  opts: SourceOptions,
  path: string | null,
): SlideFile {
  const sourceId = ++sourceCount;
  const fileSize = bytes.size;
  const index = levelIndex(tiff, levels);
  // Other codecs (Deflate, LZW, ...) are read through libvips; only JPEG tiles stand alone.
  const jpeg = index.every((l) => l.compression === JPEG_COMPRESSION);

  /** Where a stored tile's bytes are, or null when it is sparse (offset or size 0). */
  const tileRange = (level: number, tx: number, ty: number): ByteRange | null => {
    const l = index[level]!;
    const i = ty * l.across + tx;
    const offset = l.offsets[i] ?? 0;
    const count = l.counts[i] ?? 0;
    if (offset === 0 || count === 0) return null;
    // Checked before allocating: a hostile count (0xFFFFFFFF, 2^50) must not reach Buffer.allocUnsafe.
    if (count > maxTileBytes(l) || offset + count > fileSize) {
      const what = `stored tile ${tx},${ty} of level ${level} declares ${count} bytes at ${offset}`;
      throw new AppError(503, 'SLIDE_DAMAGED', `${what}: beyond the tile size or the file`);
    }
    return { offset, length: count };
  };

  /** Stored tiles of one level as standalone JPEGs (null where sparse), read together (one coalesced read). */
  const jpegTiles = async (
    level: number,
    at: ReadonlyArray<readonly [number, number]>,
  ): Promise<Array<Buffer | null>> => {
    const l = index[level]!;
    const ranges = at.map(([tx, ty]) => tileRange(level, tx, ty));
    const wanted = ranges.filter((r): r is ByteRange => r !== null);
    const got = wanted.length === 0 ? [] : await bytes.read(wanted);
    let k = 0;
    return ranges.map((r) => (r ? joinTile(got[k++]!, l.prefix) : null));
  };

  const jpegTile = async (level: number, tx: number, ty: number): Promise<Buffer | null> =>
    (await jpegTiles(level, [[tx, ty]]))[0]!;

  const blank = (l: LevelIndex) => {
    const key = `${l.tileWidth}x${l.tileHeight}`;
    let b = blanks.get(key);
    if (!b) blanks.set(key, (b = blankJpeg(l.tileWidth, l.tileHeight)));
    return b;
  };

  /**
   * The stored tiles under a rectangle of a level, each as `tileOf` makes it from its JPEG, and the
   * rectangle relative to them. `ready` may answer a tile without its bytes (a decoded-cache hit);
   * the bytes of all others are read in one call, so a remote slide coalesces them into few GETs.
   */
  const gridOf = async <T>(
    level: number,
    crop: Crop,
    tileOf: (l: LevelIndex, tx: number, ty: number, bytes: Buffer | null) => T | Promise<T>,
    ready?: (tx: number, ty: number) => T | undefined,
  ) => {
    const l = index[level]!;
    const span = tileSpan(crop, l.tileWidth, l.tileHeight);
    // Plain loops, and no read when every tile is ready: the array builtins' callbacks and an empty
    // read (arrays of other element kinds) made V8 drop and recompile this function batch after batch.
    const at: Array<[number, number]> = [];
    for (let ty = span.ty0; ty <= span.ty1; ty++) for (let tx = span.tx0; tx <= span.tx1; tx++) at.push([tx, ty]);
    const tiles: Array<T | undefined> = [];
    const need: Array<[number, number]> = [];
    for (const p of at) {
      const hit = ready?.(p[0], p[1]);
      if (hit === undefined) need.push(p);
      tiles.push(hit);
    }
    if (need.length > 0) {
      const read = await jpegTiles(level, need);
      for (let i = 0, k = 0; i < at.length; i++)
        if (tiles[i] === undefined) tiles[i] = await tileOf(l, at[i]![0], at[i]![1], read[k++]!);
    }
    return {
      grid: { tiles: tiles as T[], across: span.tx1 - span.tx0 + 1, tileWidth: l.tileWidth, tileHeight: l.tileHeight },
      local: span.local,
    };
  };

  type GridTile = TileGrid['tiles'][number];
  const decodedKey = (level: number, tx: number, ty: number) => `${sourceId}:${level}:${tx}:${ty}`;

  /** A stored tile for the native decoder from its JPEG: decoded and kept on its second use (see DecodedTiles). */
  const cachedTile = async (
    cache: DecodedTiles,
    level: number,
    l: LevelIndex,
    tx: number,
    ty: number,
    bytes: Buffer | null,
  ): Promise<GridTile> => {
    const key = decodedKey(level, tx, ty);
    if (!bytes || !cache.seen(key)) return bytes;
    const whole = { left: 0, top: 0, width: l.tileWidth, height: l.tileHeight };
    return {
      rgb: await cache.fill(
        key,
        async () =>
          (await decodeGrid({ tiles: [bytes], across: 1, tileWidth: l.tileWidth, tileHeight: l.tileHeight }, whole))
            .data,
      ),
    };
  };

  /**
   * The places in the file of the stored tiles under a rectangle of a level (length 0: sparse), for a
   * native job that reads them itself, and the rectangle relative to the first (as gridOf).
   */
  const placesOf = (level: number, crop: Crop) => {
    const l = index[level]!;
    const span = tileSpan(crop, l.tileWidth, l.tileHeight);
    const across = span.tx1 - span.tx0 + 1;
    const ranges = new Float64Array(2 * across * (span.ty1 - span.ty0 + 1));
    let k = 0;
    for (let ty = span.ty0; ty <= span.ty1; ty++)
      for (let tx = span.tx0; tx <= span.tx1; tx++, k += 2) {
        const r = tileRange(level, tx, ty);
        if (r) [ranges[k], ranges[k + 1]] = [r.offset, r.length];
      }
    const grid = { ranges, prefix: l.prefix, across, tileWidth: l.tileWidth, tileHeight: l.tileHeight };
    return { grid, local: span.local };
  };

  /** The native decoder's answer, or null (with the reason told) when libvips must do it. */
  const renderNative = async (
    level: number,
    crop: Crop,
    size: { width: number; height: number },
    out: RegionOutput,
  ) => {
    const unscaled = crop.width === size.width && crop.height === size.height;
    // Resized in the same job when the native resampler takes this ratio (a patch by mpp, a tile of a
    // level between stored ones): decode, resample and encode without a libvips pipeline.
    const inJob = unscaled || nativeResamples(crop, size);
    const job = (grid: TileGrid | FileGrid, local: Crop): Promise<Buffer | RawImage> =>
      inJob && out.kind === 'encoded' && out.format === 'jpeg'
        ? encodeGrid(grid, local, out.quality, size)
        : decodeGrid(grid, local, inJob ? size : local);
    try {
      const cache = opts.decoded ?? (opts.coarse && level >= opts.coarse.fromLevel ? opts.coarse.tiles : undefined);
      const viaTiles = async () => {
        const { grid, local } = await gridOf<GridTile>(
          level,
          crop,
          (l, tx, ty, bytes) => (cache ? cachedTile(cache, level, l, tx, ty, bytes) : bytes),
          cache
            ? (tx, ty) => {
                const hit = cache.get(decodedKey(level, tx, ty));
                return hit ? { rgb: hit } : undefined;
              }
            : undefined,
        );
        return job(grid, local);
      };
      // A local file without a decoded-tile cache for this level: one pool job reads, decodes (and encodes) the region.
      const places = cache || !bytes.withFd ? null : placesOf(level, crop);
      const got =
        (await (places && bytes.withFd!((fd) => job({ ...places.grid, fd }, places.local)))) ?? (await viaTiles());
      if (Buffer.isBuffer(got)) return got;
      return inJob && out.kind === 'raw' ? got : await renderRaw(got, size, out);
    } catch (e) {
      if (e instanceof AppError) throw e;
      opts.onNativeFallback?.((e as Error).message);
      return null;
    }
  };

  return {
    levels,
    jpeg,
    jpegTile,
    async render(level, crop, size, out) {
      const l = index[level]!;
      if (!jpeg) {
        if (path === null)
          throw new AppError(409, 'SLIDE_UNSUPPORTED', 'only JPEG-tiled slides can be read from object storage');
        return renderRegion({ kind: 'file', path, page: l.ifd }, crop, size, out);
      }
      if (opts.native) {
        const done = await renderNative(level, crop, size, out);
        if (done) return done;
      }
      const { grid, local } = await gridOf(level, crop, (lv, _tx, _ty, bytes) => framed(lv, bytes) ?? blank(lv));
      return renderJoined(grid.tiles, grid.across, local, size, out);
    },
    close: () => bytes.close(),
  };
}

/**
 * Stored tiles joined and decoded by libvips (the fallback), resized by the native resampler when it
 * takes the ratio, as the native decoder's regions are: both decoders give the same pixels.
 */
async function renderJoined(
  tiles: Buffer[],
  across: number,
  local: Crop,
  size: { width: number; height: number },
  out: RegionOutput,
): Promise<Buffer | RawImage> {
  const src = { kind: 'tiles' as const, tiles, across };
  if (!nativeResamples(local, size) || (local.width === size.width && local.height === size.height))
    return renderRegion(src, local, size, out);
  const raw = (await renderRegion(src, local, local, { kind: 'raw' })) as RawImage;
  const resized = await resampleRaw(raw, size);
  return out.kind === 'raw' ? resized : renderRaw(resized, size, out);
}

/**
 * A stored tile for libvips, refused like the native decoder refuses it when its frame claims more
 * than a tile of the grid: libvips would allocate all of it (a progressive frame, all its coefficients).
 */
function framed(l: SourceLevel, tile: Buffer | null): Buffer | null {
  const f = tile && jpegFrame(tile);
  if (f && !frameFits(f, l.tileWidth, l.tileHeight)) {
    const size = `${f.width}x${f.height}, larger than the TIFF tile size (${l.tileWidth}x${l.tileHeight}) allows`;
    throw new AppError(503, 'TILE_TOO_LARGE', `a stored tile of this slide cannot be served: JPEG tile: ${size}`);
  }
  return tile;
}

/** The stored tiles under a rectangle of a level (inclusive ranges), and the rectangle relative to the first. */
export interface TileSpan {
  tx0: number;
  ty0: number;
  tx1: number;
  ty1: number;
  local: Crop;
}

export function tileSpan(crop: Crop, tileWidth: number, tileHeight: number): TileSpan {
  const tx0 = Math.floor(crop.left / tileWidth);
  const ty0 = Math.floor(crop.top / tileHeight);
  return {
    tx0,
    ty0,
    tx1: Math.floor((crop.left + crop.width - 1) / tileWidth),
    ty1: Math.floor((crop.top + crop.height - 1) / tileHeight),
    local: {
      left: crop.left - tx0 * tileWidth,
      top: crop.top - ty0 * tileHeight,
      width: crop.width,
      height: crop.height,
    },
  };
}

/**
 * The most bytes a stored JPEG tile may take: four times its raw RGB (no JPEG comes near: even
 * noise at quality 100 stays under twice) plus room for tables and metadata segments.
 */
export function maxTileBytes(l: { tileWidth: number; tileHeight: number }): number {
  return l.tileWidth * l.tileHeight * 3 * 4 + 65_536;
}

/** What goes before a stored tile's bytes after its SOI to make it a whole JPEG: SOI, [Adobe], tables. */
export function jpegPrefix(tables: Buffer | null, rgb: boolean): Buffer {
  const parts: Buffer[] = [Buffer.from([0xff, 0xd8])];
  if (rgb) parts.push(ADOBE_RGB);
  // Tables are a whole JPEG stream of their own: SOI, DQT/DHT segments, EOI.
  if (tables && tables.length > 4) parts.push(tables.subarray(2, tables.length - 2));
  return Buffer.concat(parts);
}

/** Joins abbreviated tile data with the shared tables: SOI, [Adobe], tables, rest of the tile. */
export function spliceJpeg(tile: Buffer, tables: Buffer | null, rgb: boolean): Buffer {
  return joinTile(tile, jpegPrefix(tables, rgb));
}

/** A stored tile after its level's prefix (jpegPrefix): the tile's own SOI replaced by the prefix's. */
function joinTile(tile: Buffer, prefix: Buffer): Buffer {
  if (tile.length < 4 || tile[0] !== 0xff || tile[1] !== 0xd8)
    throw new AppError(503, 'SLIDE_DAMAGED', 'a stored tile is not JPEG data');
  return Buffer.concat([prefix, tile.subarray(2)]);
}

/** The slide's directories; a file that no longer parses is a damaged slide (503), not bad input. */
function parseSlide(fd: number, size: number, levels: readonly SourceLevel[]): TiffFile {
  try {
    const read = (offset: number, length: number) => pread(fd, offset, Math.max(0, Math.min(length, size - offset)));
    return parseTiff(read, size, openLimits(levels));
  } catch (e) {
    if (e instanceof AppError && e.status === 422)
      throw new AppError(503, 'SLIDE_DAMAGED', `the slide file no longer parses (${e.code}: ${e.detail})`);
    throw e;
  }
}

/**
 * A local file's tiles, read off the JavaScript thread: each range is a positioned read on libuv's
 * pool, so a cold read waits on the disk there rather than stalling the event loop, and a
 * request's tiles (and other requests') are in flight together. The descriptor is closed only
 * when no read is in flight (its number could otherwise be reused by another open while a read is
 * queued); a read asked after the pool closed the file (a request that held it across an
 * eviction) opens the file for itself.
 */
function localBytes(path: string, fd: number, size: number): SlideBytes {
  let inFlight = 0;
  let closing = false;
  let open = true;
  const settle = () => {
    if (--inFlight === 0 && closing && open) {
      open = false;
      closeSync(fd);
    }
  };
  const readAll = (on: number, ranges: readonly ByteRange[]) => Promise.all(ranges.map((r) => readAt(on, r)));
  return {
    size,
    withFd(use) {
      if (!open) return null;
      inFlight++;
      try {
        return use(fd).finally(settle);
      } catch (e) {
        settle();
        throw e;
      }
    },
    async read(ranges) {
      if (!open) {
        const own = await fsp.open(path, 'r');
        try {
          return await readAll(own.fd, ranges);
        } finally {
          await own.close();
        }
      }
      inFlight++;
      try {
        return await readAll(fd, ranges);
      } finally {
        settle();
      }
    },
    close() {
      closing = true;
      if (inFlight === 0 && open) {
        open = false;
        closeSync(fd);
      }
    },
  };
}

function readAt(fd: number, r: ByteRange): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const buf = Buffer.allocUnsafe(r.length);
    read(fd, buf, 0, r.length, r.offset, (err, n) => {
      if (err) reject(err);
      else if (n < r.length) reject(truncated());
      else resolve(buf);
    });
  });
}

function truncated(): AppError {
  return new AppError(503, 'SLIDE_DAMAGED', 'the slide file is shorter than its tile index says (truncated?)');
}

function pread(fd: number, offset: number, length: number): Buffer {
  const buf = Buffer.allocUnsafe(length);
  const n = readSync(fd, buf, 0, length, offset);
  if (n < length) throw truncated();
  return buf;
}

/**
 * What opening a slide may cost, from the levels the index recorded: their offsets and counts
 * (twice over, for directories the service does not read, such as Aperio's label and macro
 * images, plus 64 Ki values), and 16 bytes read per value plus 1 MiB of tags. Opening runs on the
 * event loop: a file changed after ingest to hold far more stays as cheap as the slide it was.
 */
export function openLimits(levels: readonly SourceLevel[]): { maxArrayValues: number; maxReadBytes: number } {
  const tiles = levels.reduce((n, l) => n + Math.ceil(l.width / l.tileWidth) * Math.ceil(l.height / l.tileHeight), 0);
  const maxArrayValues = 2 * (2 * tiles) + 65_536;
  return { maxArrayValues, maxReadBytes: 16 * maxArrayValues + (1 << 20) };
}
