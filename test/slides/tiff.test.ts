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
    throw new Error(`${b.length} bytes: ${(e as Error).name}: ${(e as Error).message}`);
  }
}

describe('readTiffFile agrees with geotiff, tag by tag, on the real fixtures', () => {
  const numeric = [TAG.NewSubfileType, TAG.ImageWidth, TAG.ImageLength, TAG.Compression, TAG.Photometric, TAG.SamplesPerPixel, TAG.PlanarConfig, TAG.ResolutionUnit, TAG.TileWidth, TAG.TileLength];
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
          for (const tag of numeric) expect([ifd.index, tag, ifd.num.get(tag)]).toEqual([ifd.index, tag, await load(tag)]);
          for (const tag of arrays) {
            const v = (await load(tag)) as ArrayLike<number> | undefined;
            expect([tag, ifd.arrays.has(tag) ? Array.from(ifd.arrays.get(tag)!) : undefined]).toEqual([tag, v === undefined ? undefined : Array.from(v)]);
          }
          const xres = (await load(TAG.XResolution)) as number[] | undefined;
          expect(ifd.num.get(TAG.XResolution)).toBe(xres === undefined ? undefined : xres[0]! / xres[1]!);
          const description = (await load(TAG.ImageDescription)) as string | undefined;
          expect(ifd.text.get(TAG.ImageDescription)).toBe(description?.replace(/\0+$/, ''));
          const tables = (await load(TAG.JPEGTables)) as ArrayLike<number> | undefined;
          expect(ifd.bytes.has(TAG.JPEGTables) ? Array.from(ifd.bytes.get(TAG.JPEGTables)!) : undefined).toEqual(tables && Array.from(tables));
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
    ['a directory that points to itself', () => patch(buildTiff([level]), nextOffsetAt(buildTiff([level])), 8), 'TIFF_IFD_LOOP'],
    ['two directories that point to each other', () => loop2(), 'TIFF_IFD_LOOP'],
    ['a directory of 0 entries', () => patch16(buildTiff([level]), 8, 0), 'TIFF_BAD_IFD'],
    ['a directory of 65535 entries', () => patch16(buildTiff([level]), 8, 65535), 'TIFF_BAD_IFD'],
    ['a tag declaring 4 billion values', () => buildTiff([[...level, { tag: TAG.StripOffsets, type: 4, values: [1], count: 0xffffffff }]]), 'TIFF_BAD_IFD'],
    ['a tag declaring more bytes than the file has', () => buildTiff([[...level, { tag: TAG.StripOffsets, type: 12, values: [1], count: 100_000 }]]), 'TIFF_BAD_IFD'],
    // The last values in the file, declared 19 bytes longer than they are.
    ['a tag whose values run past the end', () => buildTiff([[...level, { tag: 40000, type: 2, values: 'x'.repeat(40), count: 60 }]]), 'TIFF_TRUNCATED'],
    ['a BigTIFF count above 2^53', () => bigCount(), 'TIFF_BAD_IFD'],
    ['more than 1024 directories', () => buildTiff(Array.from({ length: 1030 }, () => [{ tag: TAG.ImageWidth, type: 3, values: [1] }])), 'TIFF_TOO_MANY_IFDS'],
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
    const entries: Entry[] = [...tiledLevel(1000, 600), { tag: TAG.XResolution, type: 5, values: [41152, 1] }, { tag: TAG.ImageDescription, type: 2, values: 'hello' }];
    for (const layout of [{ littleEndian: false }, { littleEndian: false, bigTiff: true }, { bigTiff: true }]) {
      const t = parseBytes(buildTiff([entries, tiledLevel(500, 300)], layout));
      expect(t.bigTiff).toBe(layout.bigTiff ?? false);
      expect(t.ifds.map((d) => [d.num.get(TAG.ImageWidth), d.num.get(TAG.ImageLength), d.arrays.get(TAG.TileOffsets)?.length])).toEqual([[1000, 600, 12], [500, 300, 4]]);
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
