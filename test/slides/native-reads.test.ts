/**
 * The native decoder reading a local slide's tiles in its own job (SlideBytes.lease, FileTile):
 * the same pixels and JPEG bytes as the tiles read by JS and spliced there, the same 503s for a
 * file that is shorter than its index or holds no JPEG where a tile should be, and a descriptor
 * that stays open for a job in flight when the slide is closed.
 */
import { copyFileSync, openSync, readdirSync, readFileSync, truncateSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { decodeGrid, type TileGrid } from '../../src/imaging/jpeg-native.js';
import type { RawImage, RegionOutput } from '../../src/imaging/sharp.js';
import { splicePrefix, spliceJpeg, type DecodedTiles, type SlideFile } from '../../src/slides/file.js';
import { parseTiff, TAG } from '../../src/slides/tiff.js';
import { appErrorOf, makeTempDir, realPath, removeTempDir } from '../support/core-fixtures.js';
import { openLevel0 } from '../support/tile-grid.js';

/** A decoded-tile "cache" that never keeps anything: it sends a slide source down the JS reads. */
const jsReads: DecodedTiles = {
  get: () => undefined,
  seen: () => false,
  fill: () => Promise.reject(new Error('never filled')),
};

let dir: string;
let ycc: string;

beforeAll(async () => {
  dir = makeTempDir('native-reads');
  ycc = join(dir, 'ycc.tif');
  // Noise: every tile's entropy-coded data is long and different, 4:2:0 as in Camelyon16.
  await sharp({
    create: {
      width: 1536,
      height: 1280,
      channels: 3,
      background: '#000000',
      noise: { type: 'gaussian', mean: 140, sigma: 50 },
    },
  })
    .tiff({ tile: true, tileWidth: 512, tileHeight: 512, compression: 'jpeg', quality: 75 })
    .toFile(ycc);
});
afterAll(() => removeTempDir(dir));

/** Level 0's tile offsets and byte counts. */
function tileIndex(path: string): { offsets: Float64Array; counts: Float64Array } {
  const b = readFileSync(path);
  const d = parseTiff((o, l) => b.subarray(o, o + l), b.length).ifds[0]!;
  return { offsets: d.arrays.get(TAG.TileOffsets)!, counts: d.arrays.get(TAG.TileByteCounts)! };
}

const JPEG80: RegionOutput = { kind: 'encoded', format: 'jpeg', quality: 80 };
const RAW: RegionOutput = { kind: 'raw' };

const bytesOf = (r: Buffer | RawImage) => (Buffer.isBuffer(r) ? r : r.data);

describe('the native decoder reading tiles itself', () => {
  const cases = [
    { left: 0, top: 0, width: 512, height: 512 },
    { left: 300, top: 200, width: 512, height: 512 },
    { left: 1, top: 511, width: 1024, height: 300 },
    { left: 777, top: 650, width: 33, height: 17 },
  ];

  for (const [name, path] of [
    ['YCbCr 4:2:0, 512 px tiles', () => ycc],
    ['Aperio RGB components (Adobe segment), 240 px tiles', () => realPath('CMU-1-Small-Region.svs')],
  ] as const) {
    it(`gives the bytes of tiles read and spliced by JS: ${name}, raw, jpg and resampled`, async () => {
      const own = openLevel0(path());
      const js = openLevel0(path(), { native: true, decoded: jsReads });
      try {
        for (const c of cases) {
          for (const [out, size] of [
            [RAW, c],
            [JPEG80, c],
            [JPEG80, { width: Math.ceil(c.width / 3), height: Math.ceil(c.height / 3) }],
          ] as const) {
            const a = bytesOf(await own.render(0, c, size, out));
            const b = bytesOf(await js.render(0, c, size, out));
            expect(a.equals(b), `${JSON.stringify(c)} ${out.kind} ${size.width}x${size.height}`).toBe(true);
          }
        }
      } finally {
        own.close();
        js.close();
      }
    });
  }

  it('reads no tile into a JS buffer (the JS reads do), and the addon given ranges decodes what it decodes given the bytes', async () => {
    const { offsets, counts } = tileIndex(ycc);
    const tileSizes = new Set(counts);
    const allocs = vi.spyOn(Buffer, 'allocUnsafe');
    const tileAllocs = () => allocs.mock.calls.filter(([n]) => tileSizes.has(n)).length;
    const own = openLevel0(ycc);
    const js = openLevel0(ycc, { native: true, decoded: jsReads });
    try {
      const crop = { left: 300, top: 200, width: 512, height: 512 };
      await own.render(0, crop, crop, JPEG80);
      expect(tileAllocs()).toBe(0);
      await js.render(0, crop, crop, JPEG80);
      expect(tileAllocs()).toBe(4);
    } finally {
      allocs.mockRestore();
      own.close();
      js.close();
    }
    const whole = readFileSync(ycc);
    const tables = parseTiff((o, l) => whole.subarray(o, o + l), whole.length).ifds[0]!.bytes.get(TAG.JPEGTables)!;
    const at = (i: number) => ({ offset: offsets[i]!, length: counts[i]! });
    const stored = (i: number) => spliceJpeg(whole.subarray(at(i).offset, at(i).offset + at(i).length), tables, false);
    const crop = { left: 5, top: 300, width: 1000, height: 600 };
    const fd = openSync(ycc, 'r');
    try {
      const ranges = { tiles: [0, 1, 3, 4].map(at), across: 2, tileWidth: 512, tileHeight: 512 };
      const file = { fd, prefix: splicePrefix(tables, false) };
      const buffers = { ...ranges, tiles: [0, 1, 3, 4].map(stored) };
      const a = await decodeGrid({ ...ranges, file }, crop);
      expect(a.data.equals((await decodeGrid(buffers, crop)).data)).toBe(true);
    } finally {
      closeSync(fd);
    }
  });
});

describe('the native decoder reading tiles itself: damaged files, closing, bad ranges', () => {
  it('a file now shorter than its tile index: 503 SLIDE_DAMAGED, as the JS reads answer', async () => {
    const path = join(dir, 'short.tif');
    copyFileSync(ycc, path);
    const { offsets } = tileIndex(path);
    const own = openLevel0(path);
    const js = openLevel0(path, { native: true, decoded: jsReads });
    try {
      // Cut inside the last tile, after both sources were opened (their index says the file is whole).
      const last = offsets.length - 1;
      truncateSync(path, offsets[last]! + 100);
      const crop = { left: 1536 - 100, top: 1280 - 100, width: 100, height: 100 };
      for (const src of [own, js]) {
        const err = await appErrorOf(() => src.render(0, crop, crop, JPEG80));
        expect([err.status, err.code, err.detail]).toEqual([
          503,
          'SLIDE_DAMAGED',
          'the slide file is shorter than its tile index says (truncated?)',
        ]);
      }
      // Tiles before the cut still decode.
      const first = { left: 0, top: 0, width: 64, height: 64 };
      expect(bytesOf(await own.render(0, first, first, RAW)).length).toBe(64 * 64 * 3);
    } finally {
      own.close();
      js.close();
    }
  });

  it('a tile whose bytes are not JPEG: 503 SLIDE_DAMAGED, as the JS reads answer', async () => {
    const path = join(dir, 'not-jpeg.tif');
    copyFileSync(ycc, path);
    const { offsets } = tileIndex(path);
    const fd = openSync(path, 'r+');
    writeSync(fd, Buffer.from([0, 0]), 0, 2, offsets[1]!);
    closeSync(fd);
    const own = openLevel0(path);
    const js = openLevel0(path, { native: true, decoded: jsReads });
    try {
      const crop = { left: 500, top: 0, width: 100, height: 50 };
      for (const src of [own, js]) {
        const err = await appErrorOf(() => src.render(0, crop, crop, RAW));
        expect([err.status, err.code, err.detail]).toEqual([503, 'SLIDE_DAMAGED', 'a stored tile is not JPEG data']);
      }
    } finally {
      own.close();
      js.close();
    }
  });

  it('keeps the descriptor open for jobs in flight when the slide is closed, and closes it after', async () => {
    const fds = () => readdirSync('/proc/self/fd').length;
    const before = fds();
    const ref = openLevel0(ycc, { native: true, decoded: jsReads });
    const crop = { left: 100, top: 100, width: 900, height: 900 };
    const want = bytesOf(await ref.render(0, crop, crop, JPEG80));
    ref.close();
    const src: SlideFile = openLevel0(ycc);
    const pending = Promise.all([1, 2, 3].map(() => src.render(0, crop, crop, JPEG80)));
    src.close();
    for (const got of await pending) expect(bytesOf(got).equals(want)).toBe(true);
    expect(fds()).toBe(before);
    // Closed for good: later renders read through JS, which opens the file for itself.
    expect(bytesOf(await src.render(0, crop, crop, JPEG80)).equals(want)).toBe(true);
    expect(fds()).toBe(before);
  });
});

describe('the native decoder reading tiles itself: arguments', () => {
  it('refuses file tiles without a file, and ranges beyond what a tile may take, before reading', async () => {
    const grid = (tile: TileGrid['tiles'][number], file?: TileGrid['file']): TileGrid => ({
      tiles: [tile],
      across: 1,
      tileWidth: 512,
      tileHeight: 512,
      ...(file ? { file } : {}),
    });
    const crop = { left: 0, top: 0, width: 8, height: 8 };
    const prefix = Buffer.from([0xff, 0xd8]);
    await expect(decodeGrid(grid({ offset: 0, length: 100 }), crop)).rejects.toThrow(RangeError);
    const fd = openSync(ycc, 'r');
    try {
      const huge = 512 * 512 * 12 + 65_537;
      await expect(decodeGrid(grid({ offset: 0, length: huge }, { fd, prefix }), crop)).rejects.toThrow(RangeError);
      await expect(decodeGrid(grid({ offset: -1, length: 100 }, { fd, prefix }), crop)).rejects.toThrow(RangeError);
      await expect(decodeGrid(grid({ offset: 0.5, length: 100 }, { fd, prefix }), crop)).rejects.toThrow(RangeError);
      const noSoi = Buffer.from([0, 0]);
      await expect(decodeGrid(grid({ offset: 0, length: 100 }, { fd, prefix: noSoi }), crop)).rejects.toThrow(
        RangeError,
      );
    } finally {
      closeSync(fd);
    }
  });
});
