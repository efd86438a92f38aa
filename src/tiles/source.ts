/**
 * An open slide: file descriptor plus the tile index of every level, parsed once, so a stored
 * tile costs one pread. JPEG tiles are returned as complete JPEG files (the TIFF's shared
 * JPEGTables spliced in) for passthrough, or decoded and composed into regions.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { AppError } from '../errors.js';
import { decodeJpeg, readRegionViaLibvips, type RawImage } from '../imaging/sharp.js';
import { TAG, parseTiff } from '../slides/tiff.js';

export interface SourceLevel {
  ifd: number;
  width: number;
  height: number;
  tileWidth: number;
  tileHeight: number;
}

export interface SlideSource {
  levels: readonly SourceLevel[];
  /** Whether stored tiles are JPEG and can be passed through. */
  jpeg: boolean;
  /** A stored tile as a standalone JPEG file, or null when it is sparse (offset or size 0). */
  jpegTile(level: number, tx: number, ty: number): Buffer | null;
  /** RGB pixels of a rectangle of a slide level (clipped by the caller to the level). */
  readRegion(level: number, x: number, y: number, width: number, height: number): Promise<RawImage>;
  close(): void;
}

export interface DecodedTileCache {
  get(key: string): RawImage | undefined;
  set(key: string, value: RawImage): void;
}

interface LevelIndex extends SourceLevel {
  across: number;
  offsets: Float64Array;
  counts: Float64Array;
  tables: Buffer | null;
  rgb: boolean;
  compression: number;
}

const JPEG_COMPRESSION = 7;

/** Glass is white: what a sparse (never written) tile shows. */
const BACKGROUND = 255;
/** APP14 "Adobe" segment with transform 0: tells decoders the components are RGB, not YCbCr. */
const ADOBE_RGB = Buffer.from([0xff, 0xee, 0x00, 0x0e, 0x41, 0x64, 0x6f, 0x62, 0x65, 0x00, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00]);

export function openSlideSource(path: string, levels: readonly SourceLevel[], cacheKey: string, cache: DecodedTileCache): SlideSource {
  const fd = openSync(path, 'r');
  let index: LevelIndex[];
  try {
    const size = fstatSync(fd).size;
    const tiff = parseTiff((offset, length) => pread(fd, offset, length), size);
    index = levels.map((l) => {
      const d = tiff.ifds[l.ifd];
      const offsets = d?.arrays.get(TAG.TileOffsets);
      const counts = d?.arrays.get(TAG.TileByteCounts);
      if (!d || !offsets || !counts) throw new AppError(503, 'SLIDE_CHANGED', 'the slide file no longer has the structure it was indexed with');
      return {
        ...l,
        across: Math.ceil(l.width / l.tileWidth),
        offsets,
        counts,
        tables: d.bytes.get(TAG.JPEGTables) ?? null,
        rgb: d.num.get(TAG.Photometric) === 2,
        compression: d.num.get(TAG.Compression) ?? 1,
      };
    });
  } catch (e) {
    closeSync(fd);
    throw e;
  }
  // Other codecs (Deflate, LZW, ...) are read through libvips; only JPEG tiles stand alone.
  const jpeg = index.every((l) => l.compression === JPEG_COMPRESSION);

  const jpegTile = (level: number, tx: number, ty: number): Buffer | null => {
    const l = index[level]!;
    const i = ty * l.across + tx;
    const offset = l.offsets[i] ?? 0;
    const count = l.counts[i] ?? 0;
    if (offset === 0 || count === 0) return null;
    const raw = pread(fd, offset, count);
    return spliceJpeg(raw, l.tables, l.rgb);
  };

  const decoded = async (level: number, tx: number, ty: number): Promise<RawImage | null> => {
    const key = `${cacheKey}:${level}:${tx}:${ty}`;
    const hit = cache.get(key);
    if (hit) return hit;
    const bytes = jpegTile(level, tx, ty);
    if (!bytes) return null;
    const img = await decodeJpeg(bytes);
    cache.set(key, img);
    return img;
  };

  return {
    levels,
    jpeg,
    jpegTile,
    async readRegion(level, x, y, width, height) {
      const l = index[level]!;
      if (!jpeg) return readRegionViaLibvips(path, l.ifd, x, y, width, height);
      const out = Buffer.alloc(width * height * 3, BACKGROUND);
      const tx0 = Math.floor(x / l.tileWidth);
      const ty0 = Math.floor(y / l.tileHeight);
      const tx1 = Math.floor((x + width - 1) / l.tileWidth);
      const ty1 = Math.floor((y + height - 1) / l.tileHeight);
      const jobs: Array<Promise<void>> = [];
      for (let ty = ty0; ty <= ty1; ty++) {
        for (let tx = tx0; tx <= tx1; tx++) {
          jobs.push(
            decoded(level, tx, ty).then((tile) => {
              if (tile) blit(tile, tx * l.tileWidth, ty * l.tileHeight, out, x, y, width, height);
            }),
          );
        }
      }
      await Promise.all(jobs);
      return { data: out, width, height, channels: 3 };
    },
    close: () => closeSync(fd),
  };
}

/** Joins abbreviated tile data with the shared tables: SOI, [Adobe], tables, rest of the tile. */
export function spliceJpeg(tile: Buffer, tables: Buffer | null, rgb: boolean): Buffer {
  if (tile.length < 4 || tile[0] !== 0xff || tile[1] !== 0xd8) throw new AppError(503, 'SLIDE_DAMAGED', 'a stored tile is not JPEG data');
  const parts: Buffer[] = [tile.subarray(0, 2)];
  if (rgb) parts.push(ADOBE_RGB);
  // Tables are a whole JPEG stream of their own: SOI, DQT/DHT segments, EOI.
  if (tables && tables.length > 4) parts.push(tables.subarray(2, tables.length - 2));
  parts.push(tile.subarray(2));
  return Buffer.concat(parts);
}

/** Copies the part of a decoded tile (placed at tileX, tileY in level pixels) inside the region. */
function blit(tile: RawImage, tileX: number, tileY: number, out: Buffer, x: number, y: number, width: number, height: number): void {
  const c = tile.channels;
  const x0 = Math.max(x, tileX);
  const x1 = Math.min(x + width, tileX + tile.width);
  const y0 = Math.max(y, tileY);
  const y1 = Math.min(y + height, tileY + tile.height);
  if (x1 <= x0 || y1 <= y0) return;
  for (let yy = y0; yy < y1; yy++) {
    const src = ((yy - tileY) * tile.width + (x0 - tileX)) * c;
    const dst = ((yy - y) * width + (x0 - x)) * 3;
    if (c === 3) tile.data.copy(out, dst, src, src + (x1 - x0) * 3);
    else for (let i = 0; i < x1 - x0; i++) out.set(tile.data.subarray(src + i * c, src + i * c + 3), dst + i * 3);
  }
}

function pread(fd: number, offset: number, length: number): Buffer {
  const buf = Buffer.allocUnsafe(length);
  const n = readSync(fd, buf, 0, length, offset);
  if (n < length) throw new AppError(503, 'SLIDE_DAMAGED', 'the slide file is shorter than its tile index says (truncated?)');
  return buf;
}
