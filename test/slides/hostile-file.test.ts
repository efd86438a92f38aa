/**
 * Hostile tile indexes in a slide that was indexed whole: byte counts of 0xFFFFFFFF or 2^50 (were
 * a RangeError from Buffer.allocUnsafe, a logged 500) are the slide's 503, checked before any
 * allocation; a tile whose JPEG frame claims more than the TIFF's tiles is TILE_TOO_LARGE.
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest } from '../../src/indexer/ingest.js';
import { TAG, parseTiff } from '../../src/slides/tiff.js';
import { openLimits, openSlideFile } from '../../src/slides/file.js';
import { buildTiff, tiledLevel } from '../support/core-tiff.js';
import { appErrorOf, makeTempDir, removeTempDir } from '../support/core-fixtures.js';
import { serveIndex } from '../support/app-fixture.js';

let dir: string;
let pristine: string;

beforeAll(async () => {
  dir = makeTempDir('hostile-source');
  pristine = join(dir, 'pristine.tif');
  await sharp({ create: { width: 1024, height: 1024, channels: 3, background: '#c87aa0' } })
    .tiff({ tile: true, tileWidth: 512, tileHeight: 512, pyramid: true, compression: 'jpeg', bigtiff: true })
    .toFile(pristine);
});
afterAll(() => removeTempDir(dir));

/** Where entry `tag` of the first directory of a little-endian BigTIFF lies. */
function entryAt(b: Buffer, tag: number): number {
  const ifd = Number(b.readBigUInt64LE(8));
  const n = Number(b.readBigUInt64LE(ifd));
  for (let e = 0; e < n; e++) if (b.readUInt16LE(ifd + 8 + e * 20) === tag) return ifd + 8 + e * 20;
  throw new Error(`tag ${tag} not found`);
}

/** The pristine slide with level 0's TileByteCounts rewritten as LONG8 values, tile `k` given `count`. */
function withByteCount(k: number, count: bigint): Buffer {
  const b = readFileSync(pristine);
  const at = entryAt(b, TAG.TileByteCounts);
  const counts = parseTiff((o, l) => b.subarray(o, o + l), b.length).ifds[0]!.arrays.get(TAG.TileByteCounts)!;
  const values = Buffer.alloc(counts.length * 8);
  counts.forEach((c, i) => values.writeBigUInt64LE(i === k ? count : BigInt(c), i * 8));
  b.writeUInt16LE(16, at + 2);
  b.writeBigUInt64LE(BigInt(b.length), at + 12);
  return Buffer.concat([b, values]);
}

const level0 = { ifd: 0, width: 1024, height: 1024, tileWidth: 512, tileHeight: 512 };

describe('stored tiles whose byte count is beyond the tile size or the file', () => {
  for (const count of [0xffffffffn, 2n ** 50n, 512n * 512n * 12n + 65_537n]) {
    it(`a count of ${count} is SLIDE_DAMAGED (503) before anything is allocated, for passthrough and decoding alike`, async () => {
      const path = join(dir, `count-${count}.tif`);
      writeFileSync(path, withByteCount(1, count));
      const src = openSlideFile(path, [level0], { native: true });
      try {
        expect((await src.jpegTile(0, 0, 0))!.subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
        const err = await appErrorOf(() => src.jpegTile(0, 1, 0));
        expect([err.status, err.code]).toEqual([503, 'SLIDE_DAMAGED']);
        const crop = { left: 400, top: 0, width: 200, height: 100 };
        expect((await appErrorOf(() => src.render(0, crop, crop, { kind: 'raw' }))).code).toBe('SLIDE_DAMAGED');
      } finally {
        src.close();
      }
    });
  }
});

describe("through HTTP: the slide's 503, and TILE_TOO_LARGE for a tile claiming more than the tile size", () => {
  it('answers 503 SLIDE_UNAVAILABLE for a tile with a 2^50 byte count, never a 500; other tiles still serve', async () => {
    const data = join(dir, 'http');
    mkdirSync(join(data, 'slides'), { recursive: true });
    const file = join(data, 'slides', 'hostile_001.tif');
    copyFileSync(pristine, file);
    const report = await ingest({ dataDir: data, indexPath: join(dir, 'index.sqlite') });
    expect(report.problems).toEqual([]);
    // After the ingest: the file changes under the service, its structure stays.
    writeFileSync(file, withByteCount(1, 2n ** 50n));
    const { app } = await serveIndex(data, join(dir, 'index.sqlite'));
    // DeepZoom level 10 of a 1024 px slide is level 0: its 512 px tiles are the stored ones.
    expect((await request(app).get('/slides/hostile_001/image_files/10/0_0.jpeg')).status).toBe(200);
    const bad = await request(app).get('/slides/hostile_001/image_files/10/1_0.jpeg');
    expect([bad.status, bad.body.code]).toEqual([503, 'SLIDE_UNAVAILABLE']);
    const region = await request(app).get(
      '/slides/hostile_001/region?x=400&y=0&width=200&height=100&level=0&format=png',
    );
    expect([region.status, region.body.code]).toEqual([503, 'SLIDE_UNAVAILABLE']);
  });

  it('answers 503 TILE_TOO_LARGE for a region over a tile whose frame claims 4100 x 4100 in 512 px tiles, native decoder on or off', async () => {
    const data = join(dir, 'frame');
    mkdirSync(join(data, 'slides'), { recursive: true });
    const file = join(data, 'slides', 'frame_001.tif');
    copyFileSync(pristine, file);
    expect((await ingest({ dataDir: data, indexPath: join(dir, 'frame.sqlite') })).problems).toEqual([]);
    const jpeg = await sharp({ create: { width: 16, height: 16, channels: 3, background: '#336699' } })
      .jpeg({ progressive: true })
      .toBuffer();
    let sof = 2;
    while (jpeg[sof + 1] !== 0xc2) sof += 2 + jpeg.readUInt16BE(sof + 2);
    jpeg.writeUInt16BE(4100, sof + 5);
    jpeg.writeUInt16BE(4100, sof + 7);
    // Tile 1 of level 0 pointed at that stream, appended to the file.
    const b = readFileSync(file);
    const offsets = Number(b.readBigUInt64LE(entryAt(b, TAG.TileOffsets) + 12));
    const counts = Number(b.readBigUInt64LE(entryAt(b, TAG.TileByteCounts) + 12));
    b.writeBigUInt64LE(BigInt(b.length), offsets + 8);
    b.writeUInt32LE(jpeg.length, counts + 4);
    writeFileSync(file, Buffer.concat([b, jpeg]));
    // The native decoder refuses it; with it off, the same check runs before libvips sees the tile.
    for (const nativeJpeg of [true, false]) {
      const { app } = await serveIndex(data, join(dir, 'frame.sqlite'), { nativeJpeg });
      const res = await request(app).get('/slides/frame_001/region?x=400&y=0&width=200&height=100&level=0&format=png');
      expect([nativeJpeg, res.status, res.body.code]).toEqual([nativeJpeg, 503, 'TILE_TOO_LARGE']);
      expect(res.body.detail).toMatch(/4100x4100, larger than the TIFF tile size \(512x512\)/);
    }
  });
});

describe('opening a slide costs what the index says it is', () => {
  it('openLimits: offsets and counts of the indexed levels, twice over plus 64 Ki values; 16 bytes a value plus 1 MiB read', () => {
    const camelyon = [0, 1, 2].map((k) => ({
      ifd: k,
      width: 97792 >> k,
      height: 221184 >> k,
      tileWidth: 512,
      tileHeight: 512,
    }));
    const tiles = 191 * 432 + 96 * 216 + 48 * 108;
    expect(openLimits(camelyon)).toEqual({
      maxArrayValues: 4 * tiles + 65_536,
      maxReadBytes: 16 * (4 * tiles + 65_536) + (1 << 20),
    });
    expect(openLimits([level0])).toEqual({ maxArrayValues: 16 + 65_536, maxReadBytes: 16 * 65_552 + (1 << 20) });
  });

  it('a file that now holds 2 M offsets and counts where the index knows 4 tiles is refused at open, before it is decoded', () => {
    const path = join(dir, 'swollen.tif');
    // 1,048,576 tiles of 64 px: 2 M values, well under the reader's absolute cap, far over this slide's.
    writeFileSync(path, buildTiff([tiledLevel(65536, 65536, 64)], { bigTiff: true }));
    expect(parseTiff((o, l) => readFileSync(path).subarray(o, o + l), readFileSync(path).length).ifds).toHaveLength(1);
    let err: unknown;
    try {
      openSlideFile(path, [level0], { native: true }).close();
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ status: 503, code: 'SLIDE_DAMAGED' });
    expect((err as Error).message).toContain('TIFF_TOO_COMPLEX');
  });
});
