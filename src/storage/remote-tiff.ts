/**
 * Parses a TIFF's directories from an object store with a few ranged GETs. The directory reader
 * (slides/tiff.ts) is synchronous, so it runs over the bytes fetched so far; a read it needs that
 * is not there stops it, that range (with read-ahead) is fetched, and the parse runs again. A
 * slide whose directories sit together costs one or two GETs; Camelyon16's (one directory per
 * level, each next to its tile index) a few per level.
 */
import { AppError } from '../errors.js';
import { parseTiff, type ParseLimits, type TiffFile } from '../slides/tiff.js';
import type { ObjectReader } from './object-reader.js';

/** The first GET: the header and, for most writers, the first directories. */
const FIRST_READ = 256 * 1024;
/** Each later GET reads at least this much: the next directory is usually close. */
const READ_AHEAD = 256 * 1024;
/** Parses (and so GETs) at most: a well-formed pyramid needs a few per level. */
const MAX_ROUNDS = 200;

class Missing {
  constructor(
    readonly offset: number,
    readonly length: number,
  ) {}
}

export async function parseRemoteTiff(reader: ObjectReader, limits: ParseLimits = {}): Promise<TiffFile> {
  const size = reader.size;
  const pieces: Array<{ offset: number; bytes: Buffer }> = [];
  const fetch = async (offset: number, length: number) => {
    const len = Math.min(size - offset, length);
    if (len > 0) pieces.push({ offset, bytes: (await reader.read([{ offset, length: len }]))[0]! });
  };
  const readAt = (offset: number, length: number): Buffer => {
    const len = Math.max(0, Math.min(length, size - offset));
    if (len === 0) return Buffer.alloc(0);
    const p = pieces.find((x) => x.offset <= offset && offset + len <= x.offset + x.bytes.length);
    if (!p) throw new Missing(offset, len);
    return p.bytes.subarray(offset - p.offset, offset - p.offset + len);
  };
  await fetch(0, FIRST_READ);
  for (let round = 0; round < MAX_ROUNDS; round++) {
    try {
      return parseTiff(readAt, size, limits);
    } catch (e) {
      if (!(e instanceof Missing)) throw e;
      await fetch(e.offset, Math.max(e.length, READ_AHEAD));
    }
  }
  throw new AppError(503, 'SLIDE_DAMAGED', `the slide's directories need more than ${MAX_ROUNDS} reads`);
}
