/**
 * The native decoder reading the stored tiles itself (a FileGrid: descriptor, places, prefix): the
 * same pixels and the same JPEG bytes as from the tiles read by the service and handed over, white
 * for sparse tiles, a damaged file refused as SLIDE_DAMAGED, bad places refused before anything is
 * read; and a slide source that renders this way keeps its file open until the job is done.
 */
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeGrid, encodeGrid, type FileGrid } from '../../src/imaging/jpeg-native.js';
import type { Crop } from '../../src/imaging/sharp.js';
import { jpegPrefix, spliceJpeg, tileSpan } from '../../src/slides/file.js';
import { parseTiff, TAG } from '../../src/slides/tiff.js';
import { appErrorOf, realPath, seededRandom } from '../support/core-fixtures.js';
import { jpegGrid, openLevel0 } from '../support/tile-grid.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'jpeg-native-file-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Level0 {
  width: number;
  height: number;
  tileWidth: number;
  tileHeight: number;
  offsets: ArrayLike<number>;
  counts: ArrayLike<number>;
  prefix: Buffer;
  tables: Buffer | null;
  rgb: boolean;
}

function level0(path: string): Level0 {
  const bytes = readFileSync(path);
  const d = parseTiff((o, l) => bytes.subarray(o, o + l), bytes.length).ifds[0]!;
  const tables = d.bytes.get(TAG.JPEGTables) ?? null;
  const rgb = d.num.get(TAG.Photometric) === 2;
  return {
    width: d.num.get(TAG.ImageWidth)!,
    height: d.num.get(TAG.ImageLength)!,
    tileWidth: d.num.get(TAG.TileWidth)!,
    tileHeight: d.num.get(TAG.TileLength)!,
    offsets: d.arrays.get(TAG.TileOffsets)!,
    counts: d.arrays.get(TAG.TileByteCounts)!,
    prefix: jpegPrefix(tables, rgb),
    tables,
    rgb,
  };
}

/** The places of the tiles under `crop`, as slides/file.ts lays them out (`sparse`: tile indexes given length 0). */
function fileGrid(fd: number, l: Level0, crop: Crop, sparse: number[] = []): { grid: FileGrid; local: Crop } {
  const span = tileSpan(crop, l.tileWidth, l.tileHeight);
  const across = span.tx1 - span.tx0 + 1;
  const per = Math.ceil(l.width / l.tileWidth);
  const ranges: number[] = [];
  for (let ty = span.ty0; ty <= span.ty1; ty++)
    for (let tx = span.tx0; tx <= span.tx1; tx++) {
      const i = ty * per + tx;
      ranges.push(l.offsets[i]!, sparse.includes(i) ? 0 : l.counts[i]!);
    }
  const grid = {
    fd,
    ranges: Float64Array.from(ranges),
    prefix: l.prefix,
    across,
    tileWidth: l.tileWidth,
    tileHeight: l.tileHeight,
  };
  return { grid, local: span.local };
}

function crops(l: Level0, n: number, seed: number): Crop[] {
  const rnd = seededRandom(seed);
  const out: Crop[] = [
    { left: 0, top: 0, width: l.tileWidth, height: l.tileHeight },
    { left: l.tileWidth - 3, top: l.tileHeight - 5, width: 9, height: 11 },
  ];
  for (let i = 0; i < n; i++) {
    const w = 1 + Math.floor(rnd() * Math.min(l.width, 300));
    const h = 1 + Math.floor(rnd() * Math.min(l.height, 300));
    out.push({
      left: Math.floor(rnd() * (l.width - w + 1)),
      top: Math.floor(rnd() * (l.height - h + 1)),
      width: w,
      height: h,
    });
  }
  return out;
}

async function ycbcrSlide(): Promise<string> {
  const file = join(dir, 'ycbcr.tif');
  const w = 1100;
  const h = 900;
  const px = Buffer.alloc(w * h * 3);
  const rnd = seededRandom(5);
  for (let i = 0; i < px.length; i++) px[i] = i % 3 === 1 ? (i >> 6) & 255 : Math.floor(rnd() * 256);
  await sharp(px, { raw: { width: w, height: h, channels: 3 } })
    .tiff({ tile: true, tileWidth: 512, tileHeight: 512, compression: 'jpeg', quality: 80 })
    .toFile(file);
  return file;
}

describe('native JPEG region decoder reading the tiles itself (FileGrid)', () => {
  it.each([
    ['real Aperio tiles (RGB components, shared tables)', () => Promise.resolve(realPath('CMU-1-Small-Region.svs'))],
    ['YCbCr 4:2:0 tiles of 512 px', ycbcrSlide],
  ])('%s: the same pixels and JPEG bytes as from tiles handed over', async (_name, make) => {
    const path = await make();
    const l = level0(path);
    const src = openLevel0(path);
    const fd = openSync(path, 'r');
    try {
      for (const c of crops(l, 40, 9)) {
        const given = await jpegGrid(src, 0, c);
        const { grid, local } = fileGrid(fd, l, c);
        expect(local).toEqual(given.local);
        const raw = await decodeGrid(grid, local);
        expect(raw.data.equals((await decodeGrid(given.grid, given.local)).data), JSON.stringify(c)).toBe(true);
        const jpeg = await encodeGrid(grid, local, 90, { width: c.width, height: c.height });
        expect(jpeg.equals(await encodeGrid(given.grid, given.local, 90)), JSON.stringify(c)).toBe(true);
      }
      // Resampled in the same job (a patch by mpp) like tiles handed over.
      const c = { left: 30, top: 40, width: 230, height: 230 };
      const given = await jpegGrid(src, 0, c);
      const { grid, local } = fileGrid(fd, l, c);
      const size = { width: 200, height: 200 };
      expect(
        (await encodeGrid(grid, local, 85, size)).equals(await encodeGrid(given.grid, given.local, 85, size)),
      ).toBe(true);
    } finally {
      closeSync(fd);
      src.close();
    }
  });

  it('its prefix and the tile after its SOI are what spliceJpeg makes', () => {
    const path = realPath('CMU-1-Small-Region.svs');
    const l = level0(path);
    const bytes = readFileSync(path);
    const tile = bytes.subarray(l.offsets[0]!, l.offsets[0]! + l.counts[0]!);
    expect(Buffer.concat([l.prefix, tile.subarray(2)]).equals(spliceJpeg(tile, l.tables, l.rgb))).toBe(true);
  });

  it('shows a tile of length 0 (sparse) white', async () => {
    const path = await ycbcrSlide();
    const l = level0(path);
    const fd = openSync(path, 'r');
    try {
      const c = { left: 500, top: 100, width: 30, height: 20 };
      const { grid, local } = fileGrid(fd, l, c, [1]);
      const raw = await decodeGrid(grid, local);
      for (let y = 0; y < 20; y++) {
        const row = raw.data.subarray(y * 90, y * 90 + 90);
        expect([...row.subarray(36)].every((v) => v === 255)).toBe(true);
        expect([...row.subarray(0, 36)].every((v) => v === 255)).toBe(false);
      }
    } finally {
      closeSync(fd);
    }
  });
});

describe('native JPEG region decoder reading the tiles itself: damaged files and bad arguments', () => {
  it('refuses a file shorter than its places, and a tile that is not JPEG, as SLIDE_DAMAGED (503)', async () => {
    const path = realPath('CMU-1-Small-Region.svs');
    const l = level0(path);
    const short = join(dir, 'short.svs');
    writeFileSync(short, readFileSync(path).subarray(0, l.offsets[0]! + 100));
    const fd = openSync(short, 'r');
    try {
      const c = { left: 0, top: 0, width: 10, height: 10 };
      const { grid, local } = fileGrid(fd, l, c);
      const err = await appErrorOf(() => decodeGrid(grid, local));
      expect([err.status, err.code]).toEqual([503, 'SLIDE_DAMAGED']);
      expect(err.detail).toMatch(/shorter than its tile index/);
      const shifted = { ...grid, ranges: Float64Array.from([l.offsets[0]! + 1, 50]) };
      const bad = await appErrorOf(() => decodeGrid(shifted, local));
      expect([bad.status, bad.code, bad.detail]).toEqual([503, 'SLIDE_DAMAGED', 'a stored tile is not JPEG data']);
    } finally {
      closeSync(fd);
    }
  });

  it('refuses bad places, prefixes and descriptors before reading, or with the read error', async () => {
    const path = realPath('CMU-1-Small-Region.svs');
    const l = level0(path);
    const fd = openSync(path, 'r');
    try {
      const c = { left: 0, top: 0, width: 10, height: 10 };
      const { grid, local } = fileGrid(fd, l, c);
      const most = l.tileWidth * l.tileHeight * 12 + 65536;
      for (const ranges of [
        [-1, 10],
        [0.5, 10],
        [0, most + 1],
        [0, 2 ** 60],
        [0, NaN],
      ])
        await expect(decodeGrid({ ...grid, ranges: Float64Array.from(ranges) }, local)).rejects.toThrow(RangeError);
      await expect(decodeGrid({ ...grid, ranges: new Float64Array(3) }, local)).rejects.toThrow(RangeError);
      await expect(decodeGrid({ ...grid, ranges: [1, 2] as unknown as Float64Array }, local)).rejects.toThrow(
        TypeError,
      );
      await expect(decodeGrid({ ...grid, prefix: Buffer.from('no soi') }, local)).rejects.toThrow(RangeError);
      await expect(decodeGrid({ ...grid, fd: -1 }, local)).rejects.toThrow(RangeError);
      // A descriptor that is not open: the read's error, which the service answers by trying libvips.
      const closed = openSync(path, 'r');
      closeSync(closed);
      await expect(decodeGrid({ ...grid, fd: closed }, local)).rejects.toThrow(/pread failed/);
    } finally {
      closeSync(fd);
    }
  });
});

describe('a slide source rendering with the job reading its file', () => {
  it('keeps the file open while jobs are in flight, closes it after, and answers what tiles handed over give', async () => {
    const path = await ycbcrSlide();
    const fds = () => readdirSync('/proc/self/fd').length;
    const before = fds();
    const src = openLevel0(path);
    const ref = openLevel0(path);
    const cs = crops(level0(path), 6, 3);
    const pending = Promise.all(cs.map((c) => src.render(0, c, c, { kind: 'encoded', format: 'jpeg', quality: 90 })));
    src.close();
    const got = (await pending) as Buffer[];
    expect(fds()).toBe(before + 1);
    ref.close();
    expect(fds()).toBe(before);
    const refSrc = openLevel0(path);
    try {
      for (const [i, c] of cs.entries()) {
        const given = await jpegGrid(refSrc, 0, c);
        expect(got[i]!.equals(await encodeGrid(given.grid, given.local, 90)), JSON.stringify(c)).toBe(true);
      }
    } finally {
      refSrc.close();
    }
  });
});
