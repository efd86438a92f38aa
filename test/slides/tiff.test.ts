import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromFile } from 'geotiff';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { slideStructure } from '../../src/slides/structure.js';
import { TAG, parseTiff, readTiffFile, type TiffFile } from '../../src/slides/tiff.js';
import { REAL_SLIDES, appErrorOf, makeTempDir, realPath, removeTempDir, writeSlide } from '../support/core-fixtures.js';
import { buildTiff, tiledLevel, type Entry } from '../support/core-tiff.js';

let dir: string;
let bigTiffPath: string;

beforeAll(async () => {
  dir = makeTempDir('tiff');
  bigTiffPath = join(dir, 'sharp-bigtiff.tif');
  await writeSlide(bigTiffPath, { width: 1100, height: 700, mpp: 0.243, seed: 1 });
});
afterAll(() => removeTempDir(dir));

function parseBytes(b: Buffer): TiffFile {
  return parseTiff((offset, length) => b.subarray(offset, offset + length), b.length);
}

/** What parsing `b` (and reading a structure from it) throws, as a code; RangeErrors and the like fail the test. */
function outcome(b: Buffer): string {
  try {
    slideStructure(parseBytes(b));
    return 'ok';
  } catch (e) {
    if (e instanceof AppError) return e.code;
    throw new Error(`${b.length} bytes: ${(e as Error).name}: ${(e as Error).message}`, { cause: e });
  }
}

describe('readTiffFile agrees with geotiff, tag by tag, on the real fixtures', () => {
  const numeric = [
    TAG.NewSubfileType,
    TAG.ImageWidth,
    TAG.ImageLength,
    TAG.Compression,
    TAG.Photometric,
    TAG.SamplesPerPixel,
    TAG.PlanarConfig,
    TAG.ResolutionUnit,
    TAG.TileWidth,
    TAG.TileLength,
  ];
  const arrays = [TAG.TileOffsets, TAG.TileByteCounts, TAG.StripOffsets, TAG.StripByteCounts, TAG.BitsPerSample];
  for (const name of [...REAL_SLIDES, 'sharp BigTIFF']) {
    it(name, async () => {
      const path = name === 'sharp BigTIFF' ? bigTiffPath : realPath(name);
      const ours = readTiffFile(path);
      const theirs = await fromFile(path);
      try {
        expect(ours.bigTiff).toBe(theirs.bigTiff);
        expect(ours.littleEndian).toBe(theirs.littleEndian);
        expect(ours.ifds).toHaveLength(await theirs.getImageCount());
        for (const ifd of ours.ifds) {
          const fd = (await theirs.getImage(ifd.index)).fileDirectory;
          const load = async (tag: number): Promise<unknown> => fd.loadValue(tag);
          for (const tag of numeric)
            expect([ifd.index, tag, ifd.num.get(tag)]).toEqual([ifd.index, tag, await load(tag)]);
          for (const tag of arrays) {
            const v = (await load(tag)) as ArrayLike<number> | undefined;
            expect([tag, ifd.arrays.has(tag) ? Array.from(ifd.arrays.get(tag)!) : undefined]).toEqual([
              tag,
              v === undefined ? undefined : Array.from(v),
            ]);
          }
          const xres = (await load(TAG.XResolution)) as number[] | undefined;
          expect(ifd.num.get(TAG.XResolution)).toBe(xres === undefined ? undefined : xres[0]! / xres[1]!);
          const description = (await load(TAG.ImageDescription)) as string | undefined;
          expect(ifd.text.get(TAG.ImageDescription)).toBe(description?.replace(/\0+$/, ''));
          const tables = (await load(TAG.JPEGTables)) as ArrayLike<number> | undefined;
          expect(ifd.bytes.has(TAG.JPEGTables) ? Array.from(ifd.bytes.get(TAG.JPEGTables)!) : undefined).toEqual(
            tables && Array.from(tables),
          );
        }
      } finally {
        await theirs.close();
      }
    });
  }
});

describe('parseTiff: truncated files', () => {
  it('every prefix of small.svs is an AppError (only the whole file opens)', () => {
    const b = readFileSync(realPath('small.svs'));
    const codes = new Set<string>();
    for (let n = 0; n < b.length; n++) codes.add(outcome(b.subarray(0, n)));
    expect(codes).not.toContain('ok');
    expect([...codes].every((c) => /^(TIFF_TRUNCATED|TIFF_BAD_IFD|NOT_TIFF)$/.test(c))).toBe(true);
    expect(outcome(b)).toBe('ok');
  });

  it('every prefix of boxes.tiff and of a sharp BigTIFF header region is an AppError', () => {
    const boxes = readFileSync(realPath('boxes.tiff'));
    for (let n = 0; n < boxes.length; n++) expect(outcome(boxes.subarray(0, n))).not.toBe('ok');
    const big = readFileSync(bigTiffPath);
    // Headers 8..15 bytes long are the BigTIFF-only case: the first-IFD offset is cut off.
    for (let n = 0; n < 4096; n++) expect(outcome(big.subarray(0, n))).not.toBe('ok');
    for (let n = big.length - 2048; n < big.length; n++) expect(outcome(big.subarray(0, n))).not.toBe('ok');
  });

  it('reads a truncated file on disk the same way', async () => {
    const b = readFileSync(realPath('CMU-1-Small-Region.svs'));
    for (const n of [0, 7, 8, 1000, b.length - 1]) {
      const path = join(dir, `cut-${n}.svs`);
      writeFileSync(path, b.subarray(0, n));
      expect((await appErrorOf(() => readTiffFile(path))).status).toBe(422);
    }
  });
});

describe('parseTiff: hostile and foreign bytes', () => {
  const level = tiledLevel(512, 512);
  const cases: Array<[string, () => Buffer, string]> = [
    ['an empty file', () => Buffer.alloc(0), 'TIFF_TRUNCATED'],
    ['a PNG', () => Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'), 'NOT_TIFF'],
    ['text', () => Buffer.from('<?xml version="1.0"?><ASAP_Annotations/>'), 'NOT_TIFF'],
    ['a TIFF byte-order mark with version 44', () => Buffer.from('49492c0008000000', 'hex'), 'NOT_TIFF'],
    ['no directory at all (first offset 0)', () => buildTiff([]), 'TIFF_NO_IMAGES'],
    ['a first directory past the end of the file', () => patch(buildTiff([level]), 4, 1 << 30), 'TIFF_TRUNCATED'],
    [
      'a directory that points to itself',
      () => patch(buildTiff([level]), nextOffsetAt(buildTiff([level])), 8),
      'TIFF_IFD_LOOP',
    ],
    ['two directories that point to each other', () => loop2(), 'TIFF_IFD_LOOP'],
    ['a directory of 0 entries', () => patch16(buildTiff([level]), 8, 0), 'TIFF_BAD_IFD'],
    ['a directory of 65535 entries', () => patch16(buildTiff([level]), 8, 65535), 'TIFF_BAD_IFD'],
    [
      'a tag declaring 4 billion values',
      () => buildTiff([[...level, { tag: TAG.StripOffsets, type: 4, values: [1], count: 0xffffffff }]]),
      'TIFF_BAD_IFD',
    ],
    [
      'a tag declaring more bytes than the file has',
      () => buildTiff([[...level, { tag: TAG.StripOffsets, type: 12, values: [1], count: 100_000 }]]),
      'TIFF_BAD_IFD',
    ],
    // The last values in the file, declared 19 bytes longer than they are.
    [
      'a tag whose values run past the end',
      () => buildTiff([[...level, { tag: 40000, type: 2, values: 'x'.repeat(40), count: 60 }]]),
      'TIFF_TRUNCATED',
    ],
    ['a BigTIFF count above 2^53', () => bigCount(), 'TIFF_BAD_IFD'],
    [
      'more than 1024 directories',
      () => buildTiff(Array.from({ length: 1030 }, () => [{ tag: TAG.ImageWidth, type: 3, values: [1] }])),
      'TIFF_TOO_MANY_IFDS',
    ],
  ];
  for (const [what, bytes, code] of cases) {
    it(`${what} -> ${code}`, () => expect(outcome(bytes())).toBe(code));
  }

  it('skips tags of unknown types, as libtiff does', () => {
    const t = parseBytes(buildTiff([[...level, { tag: 50000, type: 99 as number, values: [1, 2, 3, 4] }]]));
    expect(t.ifds[0]!.num.get(TAG.ImageWidth)).toBe(512);
    expect(t.ifds[0]!.num.has(50000)).toBe(false);
  });

  it('reads big-endian classic TIFF and big-endian BigTIFF alike', () => {
    const entries: Entry[] = [
      ...tiledLevel(1000, 600),
      { tag: TAG.XResolution, type: 5, values: [41152, 1] },
      { tag: TAG.ImageDescription, type: 2, values: 'hello' },
    ];
    for (const layout of [{ littleEndian: false }, { littleEndian: false, bigTiff: true }, { bigTiff: true }]) {
      const t = parseBytes(buildTiff([entries, tiledLevel(500, 300)], layout));
      expect(t.bigTiff).toBe(layout.bigTiff ?? false);
      expect(
        t.ifds.map((d) => [
          d.num.get(TAG.ImageWidth),
          d.num.get(TAG.ImageLength),
          d.arrays.get(TAG.TileOffsets)?.length,
        ]),
      ).toEqual([
        [1000, 600, 12],
        [500, 300, 4],
      ]);
      expect(t.ifds[0]!.num.get(TAG.XResolution)).toBe(41152);
      expect(t.ifds[0]!.text.get(TAG.ImageDescription)).toBe('hello');
    }
  });
});

/** Offset of the next-IFD pointer of the first directory of a classic little-endian file. */
function nextOffsetAt(b: Buffer): number {
  return 8 + 2 + b.readUInt16LE(8) * 12;
}

function patch(b: Buffer, at: number, value: number): Buffer {
  b.writeUInt32LE(value, at);
  return b;
}

function patch16(b: Buffer, at: number, value: number): Buffer {
  b.writeUInt16LE(value, at);
  return b;
}

function loop2(): Buffer {
  const b = buildTiff([tiledLevel(512, 512), tiledLevel(256, 256)]);
  const first = b.readUInt32LE(4);
  const second = b.readUInt32LE(nextOffsetAt(b));
  return patch(b, second + 2 + b.readUInt16LE(second) * 12, first);
}

function bigCount(): Buffer {
  const b = buildTiff([tiledLevel(512, 512)], { bigTiff: true });
  // Count of the first entry (at 16 + 8 + 4): 2^60.
  b.writeBigUInt64LE(1n << 60n, 16 + 8 + 4);
  return b;
}

/**
 * A classic little-endian TIFF of `dirs` directories, each of `entries` LONG entries (tags from
 * `tagOf`) that all point at one array of `count` values placed after them, shifted by
 * `shift(dir)` bytes: hostile files whose small size hides how often they make a reader read.
 */
function pointingAgain(
  dirs: number,
  entries: number,
  count: number,
  tagOf: (e: number) => number,
  shift: (d: number) => number = () => 0,
  type = 4,
): Buffer {
  const tableSize = 2 + entries * 12 + 4;
  const arrayAt = 8 + dirs * tableSize;
  const b = Buffer.alloc(arrayAt + shift(dirs) + count * (type === 4 ? 4 : 2));
  b.write('II', 0, 'latin1');
  b.writeUInt16LE(42, 2);
  b.writeUInt32LE(8, 4);
  for (let d = 0; d < dirs; d++) {
    const at = 8 + d * tableSize;
    b.writeUInt16LE(entries, at);
    for (let e = 0; e < entries; e++) {
      const o = at + 2 + e * 12;
      b.writeUInt16LE(tagOf(e), o);
      b.writeUInt16LE(type, o + 2);
      b.writeUInt32LE(count, o + 4);
      b.writeUInt32LE(arrayAt + shift(d), o + 8);
    }
    b.writeUInt32LE(d + 1 < dirs ? at + tableSize : 0, at + tableSize - 4);
  }
  if (type === 4) for (let i = 0; i < count; i++) b.writeUInt32LE(1000 + i, arrayAt + 4 * i);
  return b;
}

/** Parses `b`, counting the bytes the reader asks for. */
function parseCounting(b: Buffer): { read: number; tiff: TiffFile | null; code: string | null } {
  let read = 0;
  try {
    const tiff = parseTiff((offset, length) => {
      const chunk = b.subarray(offset, offset + length);
      read += chunk.length;
      return chunk;
    }, b.length);
    return { read, tiff, code: null };
  } catch (e) {
    if (e instanceof AppError) return { read, tiff: null, code: e.code };
    throw e;
  }
}

describe('parseTiff: the work of a file is bounded by its size, not by what its entries claim', () => {
  it('4,000 TileOffsets entries each pointing at one 1 MB array (was 31-52 s of blocked event loop): read once', () => {
    const b = pointingAgain(1, 4000, 250_000, () => TAG.TileOffsets);
    expect(b.length).toBeLessThan(1.1e6);
    const { read, tiff } = parseCounting(b);
    expect(read).toBeLessThan(b.length + 64);
    expect(tiff!.ifds[0]!.arrays.get(TAG.TileOffsets)!.subarray(0, 3)).toEqual(new Float64Array([1000, 1001, 1002]));
  });

  it('the same, scaled down (400 entries, a 100 KB array), and with 400 different tags: each read once, scalars by their first value', () => {
    for (const tagOf of [() => TAG.TileByteCounts, (e: number) => 40000 + e]) {
      const b = pointingAgain(1, 400, 25_000, tagOf);
      const { read, tiff } = parseCounting(b);
      expect(read).toBeLessThan(b.length + 64);
      expect(tiff!.ifds).toHaveLength(1);
    }
  });

  it('directories sharing one array share its decoding; arrays shifted by a few bytes each run out of the budget: TIFF_TOO_COMPLEX', () => {
    const shared = parseCounting(pointingAgain(200, 1, 25_000, () => TAG.TileOffsets));
    expect(shared.code).toBeNull();
    expect(shared.read).toBeLessThan(110_000);
    expect(shared.tiff!.ifds[199]!.arrays.get(TAG.TileOffsets)).toBe(shared.tiff!.ifds[0]!.arrays.get(TAG.TileOffsets));
    const shifted = pointingAgain(
      200,
      1,
      25_000,
      () => TAG.TileOffsets,
      (d) => 4 * d,
    );
    const { read, code } = parseCounting(shifted);
    expect(code).toBe('TIFF_TOO_COMPLEX');
    expect(read).toBeLessThanOrEqual(2 * shifted.length + 65_536);
  });

  it('reads LONG8 and big-endian SHORT/LONG arrays in bulk exactly as value by value', () => {
    const values = [0, 1, 255, 65535, 2 ** 31, 2 ** 32 - 1];
    for (const layout of [{ bigTiff: true }, { littleEndian: false }, { littleEndian: false, bigTiff: true }]) {
      const entries: Entry[] = [
        ...tiledLevel(512, 512),
        { tag: TAG.StripOffsets, type: layout.bigTiff ? 16 : 4, values: [...values, 2 ** 40 + 7] },
        { tag: TAG.BitsPerSample, type: 3, values: [8, 8, 8, 65535] },
      ];
      if (!layout.bigTiff) entries[entries.length - 2]!.values = values;
      const d = parseBytes(buildTiff([entries], layout)).ifds[0]!;
      expect(Array.from(d.arrays.get(TAG.StripOffsets)!)).toEqual(layout.bigTiff ? [...values, 2 ** 40 + 7] : values);
      expect(Array.from(d.arrays.get(TAG.BitsPerSample)!)).toEqual([8, 8, 8, 65535]);
    }
    const marker = Buffer.alloc(8);
    marker.writeBigUInt64LE(12_345_678_901n);
    const huge = buildTiff(
      [[...tiledLevel(512, 512), { tag: TAG.StripOffsets, type: 16, values: [1, 12_345_678_901] }]],
      { bigTiff: true },
    );
    // That LONG8 value made 2^60: beyond any file.
    huge.writeBigUInt64LE(1n << 60n, huge.indexOf(marker));
    expect(outcome(huge)).toBe('TIFF_BAD_IFD');
  });
});

describe('parseTiff: absolute caps per file', () => {
  it('more than 16 M offsets and counts in all is TIFF_TOO_COMPLEX, even within the byte budget', () => {
    // 9 directories of 2 M SHORT values, each array overlapping the previous one by half: 36 MB
    // read of a 20 MB file (within twice its size), 18 M values.
    const b = pointingAgain(
      9,
      1,
      2_000_000,
      () => TAG.TileOffsets,
      (d) => 2_000_000 * d,
      3,
    );
    const { read, code } = parseCounting(b);
    expect(code).toBe('TIFF_TOO_COMPLEX');
    expect(read).toBeLessThan(2 * b.length);
  });
});
