/**
 * A small TIFF / BigTIFF directory reader: tags only, never pixels.
 *
 * Why not geotiff: the tile server needs each level's TileOffsets / TileByteCounts as typed
 * arrays, parsed once per slide and read with synchronous preads on the hot path; geotiff is
 * async, block-cached and GeoTIFF-oriented. geotiff stays in the tests as the independent reader
 * this one is checked against.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { invalidInput } from '../errors.js';

export const TAG = {
  NewSubfileType: 254,
  ImageWidth: 256,
  ImageLength: 257,
  BitsPerSample: 258,
  Compression: 259,
  Photometric: 262,
  ImageDescription: 270,
  Make: 271,
  Model: 272,
  StripOffsets: 273,
  SamplesPerPixel: 277,
  StripByteCounts: 279,
  XResolution: 282,
  YResolution: 283,
  PlanarConfig: 284,
  ResolutionUnit: 296,
  Software: 305,
  TileWidth: 322,
  TileLength: 323,
  TileOffsets: 324,
  TileByteCounts: 325,
  SubIFDs: 330,
  JPEGTables: 347,
  YCbCrSubsampling: 530,
} as const;

/** One image file directory with the values this service uses, already decoded. */
export interface Ifd {
  index: number;
  /** Numeric tags (SHORT/LONG/LONG8/RATIONAL as float): first value only. */
  num: Map<number, number>;
  /** Arrays of offsets and byte counts (TileOffsets, TileByteCounts, StripOffsets, ...). */
  arrays: Map<number, Float64Array>;
  /** ASCII tags. */
  text: Map<number, string>;
  /** UNDEFINED/BYTE blobs (JPEGTables). */
  bytes: Map<number, Buffer>;
}

export interface TiffFile {
  bigTiff: boolean;
  littleEndian: boolean;
  ifds: Ifd[];
}

/** Reads `length` bytes at `offset`; returns fewer only at end of file. */
export type ReadAt = (offset: number, length: number) => Buffer;

/** Hard bounds so a hostile or broken file cannot make the reader loop or allocate without end. */
const MAX_IFDS = 1024;
const MAX_ENTRIES = 4096;
const MAX_ARRAY_VALUES = 50_000_000;
/**
 * Bytes the reader may read from a file, over all its directories and values: a well-formed file
 * reads each byte of its directories at most once, so twice the file (and 64 KiB for tiny files)
 * only stops files whose entries point again and again at the same bytes (a 1 MB file with 4,000
 * entries each pointing at one 1 MB array cost 4 GB of reads and a minute of conversion).
 */
const readBudget = (fileSize: number) => Math.min(2 * fileSize + 65_536, MAX_READ_BYTES);
/**
 * Absolute caps per file, whatever its size, so opening a slide (synchronous, on the event loop)
 * stays bounded: a 200k x 200k slide of 240 px tiles has ~1.9 M offsets and counts in all, ~15 MB.
 */
const MAX_READ_BYTES = 128 * 1024 * 1024;
const MAX_FILE_ARRAY_VALUES = 16_000_000;
const ARRAY_TAGS = new Set<number>([
  TAG.TileOffsets,
  TAG.TileByteCounts,
  TAG.StripOffsets,
  TAG.StripByteCounts,
  TAG.SubIFDs,
  TAG.BitsPerSample,
  TAG.YCbCrSubsampling,
]);
const TYPE_SIZE: Record<number, number> = {
  1: 1,
  2: 1,
  3: 2,
  4: 4,
  5: 8,
  6: 1,
  7: 1,
  8: 2,
  9: 4,
  10: 8,
  11: 4,
  12: 8,
  13: 4,
  16: 8,
  17: 8,
  18: 8,
};

export function readTiffFile(path: string): TiffFile {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    return parseTiff((offset, length) => {
      const len = Math.max(0, Math.min(length, size - offset));
      const buf = Buffer.alloc(len);
      if (len > 0) readSync(fd, buf, 0, len, offset);
      return buf;
    }, size);
  } finally {
    closeSync(fd);
  }
}

/**
 * Tighter bounds for a file whose structure is already known (a slide the index describes): what
 * its directories may read and decode, so a file changed after ingest costs no more to open than
 * the slide it replaced.
 */
export interface ParseLimits {
  maxReadBytes?: number;
  maxArrayValues?: number;
}

export function parseTiff(readAt: ReadAt, fileSize: number, limits: ParseLimits = {}): TiffFile {
  const head = readAt(0, 16);
  if (head.length < 8) throw invalidInput('TIFF_TRUNCATED', 'the file is shorter than a TIFF header');
  const order = head.toString('latin1', 0, 2);
  if (order !== 'II' && order !== 'MM')
    throw invalidInput('NOT_TIFF', 'the file does not start with a TIFF byte-order mark');
  const le = order === 'II';
  const magic = le ? head.readUInt16LE(2) : head.readUInt16BE(2);
  if (magic !== 42 && magic !== 43) throw invalidInput('NOT_TIFF', `unknown TIFF version ${magic}`);
  const big = magic === 43;
  // A BigTIFF header is 16 bytes: its first-directory offset is a LONG8 at byte 8.
  if (big && head.length < 16) throw invalidInput('TIFF_TRUNCATED', 'the file is shorter than a BigTIFF header');
  const r = reader(le);
  const file = budgeted(readAt, fileSize, limits);
  let next = big ? r.u64(head, 8) : r.u32(head, 4);
  const ifds: Ifd[] = [];
  const seen = new Set<number>();
  while (next !== 0) {
    if (seen.has(next)) throw invalidInput('TIFF_IFD_LOOP', 'the chain of image directories loops');
    if (ifds.length >= MAX_IFDS) throw invalidInput('TIFF_TOO_MANY_IFDS', `more than ${MAX_IFDS} image directories`);
    if (next >= fileSize)
      throw invalidInput('TIFF_TRUNCATED', `image directory ${ifds.length} points past the end of the file`);
    seen.add(next);
    const parsed = readIfd(file, r, big, next, ifds.length);
    ifds.push(parsed.ifd);
    next = parsed.next;
  }
  if (ifds.length === 0) throw invalidInput('TIFF_NO_IMAGES', 'the file has no image directory');
  return { bigTiff: big, littleEndian: le, ifds };
}

/** The file as the directory reader sees it: reads counted against the budget, arrays decoded once. */
interface BudgetedFile {
  fileSize: number;
  read: ReadAt;
  /** Decoded arrays by type, count and offset: directories that share an array share its decoding. */
  arrays: Map<string, Float64Array>;
  /** Counts the values of an array about to be decoded against MAX_FILE_ARRAY_VALUES. */
  decoding(count: number): void;
}

function budgeted(readAt: ReadAt, fileSize: number, limits: ParseLimits): BudgetedFile {
  const readLimit = Math.min(readBudget(fileSize), limits.maxReadBytes ?? Infinity);
  const valueLimit = Math.min(MAX_FILE_ARRAY_VALUES, limits.maxArrayValues ?? Infinity);
  let left = readLimit;
  const read: ReadAt = (offset, length) => {
    // What can be read at all: a request past the end is a truncation, answered by the caller.
    if (Math.min(length, fileSize - offset) > left) {
      const what = `the directories point at more than ${readLimit} bytes of a ${fileSize}-byte file`;
      throw invalidInput('TIFF_TOO_COMPLEX', `${what} (the same bytes again and again)`);
    }
    const b = readAt(offset, length);
    left -= b.length;
    return b;
  };
  let values = 0;
  const decoding = (count: number) => {
    values += count;
    if (values > valueLimit) {
      throw invalidInput('TIFF_TOO_COMPLEX', `the directories hold more than ${valueLimit} offsets and counts`);
    }
  };
  return { fileSize, read, arrays: new Map(), decoding };
}

function readIfd(file: BudgetedFile, r: Reader, big: boolean, at: number, index: number): { ifd: Ifd; next: number } {
  const countBuf = file.read(at, big ? 8 : 2);
  if (countBuf.length < (big ? 8 : 2)) throw invalidInput('TIFF_TRUNCATED', `image directory ${index} is cut off`);
  const n = big ? r.u64(countBuf, 0) : r.u16(countBuf, 0);
  if (n === 0 || n > MAX_ENTRIES) throw invalidInput('TIFF_BAD_IFD', `image directory ${index} declares ${n} entries`);
  const entrySize = big ? 20 : 12;
  const base = at + (big ? 8 : 2);
  const body = file.read(base, n * entrySize + (big ? 8 : 4));
  if (body.length < n * entrySize + (big ? 8 : 4))
    throw invalidInput('TIFF_TRUNCATED', `image directory ${index} is cut off`);
  const ifd: Ifd = { index, num: new Map(), arrays: new Map(), text: new Map(), bytes: new Map() };
  const tags = new Set<number>();
  for (let e = 0; e < n; e++) {
    const o = e * entrySize;
    const tag = r.u16(body, o);
    // A repeated tag is ignored, as libtiff does: the first one counts.
    if (tags.has(tag)) continue;
    tags.add(tag);
    readEntry(file, r, big, ifd, body, o);
  }
  const nextAt = n * entrySize;
  const next = big ? r.u64(body, nextAt) : r.u32(body, nextAt);
  return { ifd, next };
}

function readEntry(file: BudgetedFile, r: Reader, big: boolean, ifd: Ifd, body: Buffer, o: number): void {
  const tag = r.u16(body, o);
  const type = r.u16(body, o + 2);
  const count = big ? r.u64(body, o + 4) : r.u32(body, o + 4);
  const size = TYPE_SIZE[type];
  if (size === undefined) return; // unknown types are skipped, as libtiff does
  const total = size * count;
  if (count > MAX_ARRAY_VALUES || (total > (big ? 8 : 4) && total > file.fileSize)) {
    throw invalidInput('TIFF_BAD_IFD', `tag ${tag} of image directory ${ifd.index} declares ${count} values`);
  }
  const inline = total <= (big ? 8 : 4);
  const valueAt = o + (big ? 12 : 8);
  if (inline) return storeValue(ifd, tag, type, count, body.subarray(valueAt, valueAt + total), r);
  const offset = big ? r.u64(body, valueAt) : r.u32(body, valueAt);
  const blob = type === 2 || type === 7 || (type === 1 && tag === TAG.JPEGTables);
  const kind = blob ? 'blob' : ARRAY_TAGS.has(tag) ? 'array' : 'scalar';
  const key = `${type}:${count}:${offset}`;
  const known = kind === 'array' ? file.arrays.get(key) : undefined;
  if (known) return void ifd.arrays.set(tag, known);
  if (kind === 'array') file.decoding(count);
  // Of other numeric tags only the first value is kept: only it is read.
  const want = kind === 'scalar' ? size : total;
  const data = file.read(offset, want);
  if (data.length < want) {
    throw invalidInput('TIFF_TRUNCATED', `tag ${tag} of image directory ${ifd.index} points past the end of the file`);
  }
  storeValue(ifd, tag, type, kind === 'scalar' ? 1 : count, data, r);
  if (kind === 'array') file.arrays.set(key, ifd.arrays.get(tag)!);
}

function storeValue(ifd: Ifd, tag: number, type: number, count: number, data: Buffer, r: Reader): void {
  if (type === 2) {
    ifd.text.set(tag, data.toString('latin1').replace(/\0+$/, ''));
  } else if (type === 7 || (type === 1 && tag === TAG.JPEGTables)) {
    ifd.bytes.set(tag, Buffer.from(data));
  } else if (ARRAY_TAGS.has(tag)) {
    ifd.arrays.set(tag, r.array(data, type, count));
  } else if (count > 0) {
    ifd.num.set(tag, r.scalar(data, type, 0));
  }
}

interface Reader {
  u16(b: Buffer, o: number): number;
  u32(b: Buffer, o: number): number;
  u64(b: Buffer, o: number): number;
  scalar(b: Buffer, type: number, i: number): number;
  array(b: Buffer, type: number, count: number): Float64Array;
}

function reader(le: boolean): Reader {
  const u16 = (b: Buffer, o: number) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
  const u32 = (b: Buffer, o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const u64 = (b: Buffer, o: number) => {
    const v = le ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o);
    // Offsets beyond 2^53 cannot address a real file; refusing them keeps arithmetic exact.
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw invalidInput('TIFF_BAD_IFD', 'an offset is larger than any file');
    return Number(v);
  };
  const scalar = (b: Buffer, type: number, i: number): number => {
    switch (type) {
      case 1:
      case 7:
        return b.readUInt8(i);
      case 6:
        return b.readInt8(i);
      case 3:
        return u16(b, i * 2);
      case 8:
        return le ? b.readInt16LE(i * 2) : b.readInt16BE(i * 2);
      case 4:
      case 13:
        return u32(b, i * 4);
      case 9:
        return le ? b.readInt32LE(i * 4) : b.readInt32BE(i * 4);
      case 5: {
        const d = u32(b, i * 8 + 4);
        return d === 0 ? 0 : u32(b, i * 8) / d;
      }
      case 10: {
        const s = (o: number) => (le ? b.readInt32LE(o) : b.readInt32BE(o));
        const d = s(i * 8 + 4);
        return d === 0 ? 0 : s(i * 8) / d;
      }
      case 11:
        return le ? b.readFloatLE(i * 4) : b.readFloatBE(i * 4);
      case 12:
        return le ? b.readDoubleLE(i * 8) : b.readDoubleBE(i * 8);
      default:
        return u64(b, i * 8);
    }
  };
  /** Arrays of offsets and counts (SHORT, LONG, LONG8: nearly all of a slide's values) in bulk. */
  const array = (b: Buffer, type: number, count: number): Float64Array => {
    if (type !== 3 && type !== 4 && type !== 16) {
      return Float64Array.from({ length: count }, (_, i) => scalar(b, type, i));
    }
    // An aligned copy in this machine's byte order (little-endian, as every Node platform).
    const bytes = Buffer.from(new Uint8Array(b.subarray(0, count * (type === 3 ? 2 : type === 4 ? 4 : 8))).buffer);
    if (!le && type === 3) bytes.swap16();
    else if (!le && type === 4) bytes.swap32();
    else if (!le) bytes.swap64();
    if (type === 3) return new Float64Array(new Uint16Array(bytes.buffer, bytes.byteOffset, count));
    const words = new Uint32Array(bytes.buffer, bytes.byteOffset, type === 4 ? count : count * 2);
    if (type === 4) return new Float64Array(words);
    const out = new Float64Array(count);
    for (let i = 0; i < count; i++) {
      const hi = words[i * 2 + 1]!;
      // Offsets beyond 2^53 cannot address a real file; refusing them keeps arithmetic exact.
      if (hi >= 0x200000) throw invalidInput('TIFF_BAD_IFD', 'an offset is larger than any file');
      out[i] = hi * 0x1_0000_0000 + words[i * 2]!;
    }
    return out;
  };
  return { u16, u32, u64, scalar, array };
}
