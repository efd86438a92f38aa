/**
 * The native JPEG region decoder against libvips on real and generated tiles: the same pixels,
 * bit for bit, for any crop (tile edges, iMCU edges, one pixel, whole tiles); white for sparse
 * tiles; its JPEG output decodes to what libvips' encoder gives; and bad input is refused, never
 * read past.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeGrid, encodeGrid, nativeJpegStatus, type TileGrid } from '../../src/imaging/jpeg-native.js';
import { renderRegion, type Crop } from '../../src/imaging/sharp.js';
import { parseTiff, TAG } from '../../src/slides/tiff.js';
import type { SlideFile } from '../../src/slides/file.js';
import { appErrorOf, realPath, seededRandom } from '../support/core-fixtures.js';
import { jpegGrid, openLevel0 } from '../support/tile-grid.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'jpeg-native-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The tiles under `crop` (level 0) and the crop relative to the first of them, as SlideFile.render lays them out. */
const gridOf = async (src: SlideFile, crop: Crop) => jpegGrid(src, 0, crop);

/** libvips' answer: the whole tiles joined, decoded, cropped. */
async function viaLibvips(grid: TileGrid, local: Crop): Promise<Buffer> {
  const out = await renderRegion({ kind: 'tiles', tiles: grid.tiles as Buffer[], across: grid.across }, local, local, {
    kind: 'raw',
  });
  return (out as { data: Buffer }).data;
}

/** Crops that probe every edge case: iMCU and tile boundaries each side, single pixels, whole tiles, random. */
function crops(width: number, height: number, tile: number, n: number, seed: number): Crop[] {
  const rnd = seededRandom(seed);
  const out: Crop[] = [
    { left: 0, top: 0, width: tile, height: tile },
    { left: 0, top: 0, width: 1, height: 1 },
    { left: tile - 1, top: tile - 1, width: 2, height: 2 },
    { left: 16, top: 16, width: 16, height: 16 },
    { left: 15, top: 17, width: 18, height: 14 },
    { left: 8, top: 8, width: tile - 16, height: tile - 16 },
    { left: 32, top: 0, width: 100, height: Math.min(height, tile + 7) },
    {
      left: tile - 3,
      top: tile - 3,
      width: Math.min(width - tile + 3, tile + 6),
      height: Math.min(height - tile + 3, tile + 6),
    },
  ];
  for (let i = 0; i < n; i++) {
    const w = 1 + Math.floor(rnd() * Math.min(width, 300));
    const h = 1 + Math.floor(rnd() * Math.min(height, 300));
    out.push({
      left: Math.floor(rnd() * (width - w + 1)),
      top: Math.floor(rnd() * (height - h + 1)),
      width: w,
      height: h,
    });
  }
  return out.filter((c) => c.left + c.width <= width && c.top + c.height <= height);
}

async function expectSamePixels(src: SlideFile, cs: Crop[]): Promise<void> {
  for (const c of cs) {
    const { grid, local } = await gridOf(src, c);
    const raw = await decodeGrid(grid, local);
    expect(raw.data.equals(await viaLibvips(grid, local)), JSON.stringify(c)).toBe(true);
  }
}

describe('native JPEG region decoder', () => {
  it('reads local tiles off the JS thread; closing waits for reads in flight, and a read after close still answers', async () => {
    const path = realPath('CMU-1-Small-Region.svs');
    const whole = readFileSync(path);
    const fds = () => readdirSync('/proc/self/fd').length;
    const before = fds();
    const src = openLevel0(path);
    const first = await src.jpegTile(0, 0, 0);
    // Tiles asked, then the file closed while their reads are in flight: they all arrive whole.
    const pending = Promise.all([src.jpegTile(0, 1, 0), src.jpegTile(0, 0, 1), src.jpegTile(0, 1, 1)]);
    src.close();
    const got = await pending;
    expect(got.every((b) => b !== null && b.length > 100)).toBe(true);
    expect(fds()).toBe(before);
    // A request that held the file across its close (an eviction from the pool) still reads it.
    const again = await src.jpegTile(0, 0, 0);
    expect(again!.equals(first!)).toBe(true);
    expect(fds()).toBe(before);
    expect(whole.includes(first!.subarray(first!.length - 200, first!.length - 2))).toBe(true);
  });

  it('is built and loads (npm ci builds it; .ci/run installs g++, make and libjpeg62-turbo-dev)', () => {
    const st = nativeJpegStatus();
    expect(st.reason).toBeUndefined();
    expect(st.available).toBe(true);
    expect(st.libjpegTurbo).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('decodes the same pixels as libvips: real Aperio tiles (RGB components, 240 px tiles)', async () => {
    const src = openLevel0(realPath('CMU-1-Small-Region.svs'));
    try {
      const l = src.levels[0]!;
      await expectSamePixels(src, crops(l.width, l.height, l.tileWidth, 120, 7));
    } finally {
      src.close();
    }
  });

  it('decodes the same pixels as libvips: YCbCr 4:2:0 tiles of 512 px, as in Camelyon16', async () => {
    const file = join(dir, 'ycbcr.tif');
    // Texture down to single pixels, so chroma upsampling at a crop edge would show.
    const w = 1300;
    const h = 1100;
    const px = Buffer.alloc(w * h * 3);
    const rnd = seededRandom(3);
    for (let i = 0; i < px.length; i++) px[i] = i % 3 === 0 ? (i >> 5) & 255 : Math.floor(rnd() * 256);
    await sharp(px, { raw: { width: w, height: h, channels: 3 } })
      .tiff({ tile: true, tileWidth: 512, tileHeight: 512, compression: 'jpeg', quality: 85 })
      .toFile(file);
    const src = openLevel0(file);
    try {
      await expectSamePixels(src, crops(w, h, 512, 120, 11));
    } finally {
      src.close();
    }
  });

  it('decodes grey (one-component) tiles to RGB like libvips', async () => {
    const tile = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#7a7a7a' } })
      .composite([
        { input: Buffer.from('<svg width="64" height="64"><circle cx="20" cy="30" r="17" fill="#202020"/></svg>') },
      ])
      .toColourspace('b-w')
      .jpeg({ quality: 80 })
      .toBuffer();
    expect((await sharp(tile).metadata()).channels).toBe(1);
    const grid = { tiles: [tile], across: 1, tileWidth: 64, tileHeight: 64 };
    for (const c of [
      { left: 0, top: 0, width: 64, height: 64 },
      { left: 9, top: 13, width: 30, height: 41 },
    ]) {
      const raw = await decodeGrid(grid, c);
      const ref = await sharp(tile).extract(c).toColourspace('srgb').raw().toBuffer();
      expect(raw.data.equals(ref)).toBe(true);
    }
  });

  it('fills sparse (null) tiles with white and decodes the others', async () => {
    const tile = await sharp({ create: { width: 32, height: 32, channels: 3, background: '#204080' } })
      .jpeg({ quality: 90 })
      .toBuffer();
    const raw = await decodeGrid(
      { tiles: [tile, null], across: 2, tileWidth: 32, tileHeight: 32 },
      { left: 16, top: 0, width: 32, height: 32 },
    );
    const ref = await sharp(tile).raw().toBuffer();
    for (let y = 0; y < 32; y++) {
      expect(raw.data.subarray(y * 96, y * 96 + 48).equals(ref.subarray((y * 32 + 16) * 3, (y * 32 + 32) * 3))).toBe(
        true,
      );
      expect([...raw.data.subarray(y * 96 + 48, y * 96 + 96)].every((v) => v === 255)).toBe(true);
    }
  });

  it('copies tiles given already decoded (a cache) instead of decoding them: the same pixels', async () => {
    const src = openLevel0(realPath('CMU-1-Small-Region.svs'));
    try {
      const { grid, local } = await gridOf(src, { left: 200, top: 300, width: 300, height: 260 });
      expect(grid.tiles.length).toBeGreaterThan(1);
      const whole = { left: 0, top: 0, width: grid.tileWidth, height: grid.tileHeight };
      const rgb = (await decodeGrid({ ...grid, tiles: [grid.tiles[1]!], across: 1 }, whole)).data;
      const mixed = { ...grid, tiles: grid.tiles.map((t, i) => (i === 1 ? { rgb } : t)) };
      expect((await decodeGrid(mixed, local)).data.equals((await decodeGrid(grid, local)).data)).toBe(true);
      // And JPEG-encoded from a mixed grid, the same pixels as from JPEG tiles only.
      const a = await sharp(await encodeGrid(mixed, local, 80))
        .raw()
        .toBuffer();
      const b = await sharp(await encodeGrid(grid, local, 80))
        .raw()
        .toBuffer();
      expect(a.equals(b)).toBe(true);
      // A decoded tile must hold a whole tile.
      await expect(
        decodeGrid({ ...grid, tiles: grid.tiles.map((t, i) => (i === 1 ? { rgb: rgb.subarray(0, 100) } : t)) }, local),
      ).rejects.toThrow(RangeError);
    } finally {
      src.close();
    }
  });

  it('in a slide source with a decoded-tile cache: first use partial, second use whole and kept, then copied', async () => {
    const store = new Map<string, Buffer>();
    const recent = new Set<string>();
    const decoded = {
      get: (k: string) => store.get(k),
      fill: async (k: string, decode: () => Promise<Buffer>) => {
        const v = await decode();
        store.set(k, v);
        return v;
      },
      seen: (k: string) => (recent.has(k) ? true : (recent.add(k), false)),
    };
    const path = realPath('CMU-1-Small-Region.svs');
    const cached = openLevel0(path, { native: true, decoded });
    const plain = openLevel0(path, { native: false });
    const level = plain.levels[0]!;
    try {
      const crop = { left: 230, top: 470, width: 256, height: 256 };
      const want = ((await plain.render(0, crop, crop, { kind: 'raw' })) as { data: Buffer }).data;
      const under =
        (Math.floor((crop.left + crop.width - 1) / level.tileWidth) - Math.floor(crop.left / level.tileWidth) + 1) *
        (Math.floor((crop.top + crop.height - 1) / level.tileHeight) - Math.floor(crop.top / level.tileHeight) + 1);
      expect(under).toBeGreaterThan(1);
      for (const [round, kept] of [
        [1, 0],
        [2, under],
        [3, under],
      ] as const) {
        const got = ((await cached.render(0, crop, crop, { kind: 'raw' })) as { data: Buffer }).data;
        expect(got.equals(want), `round ${round}`).toBe(true);
        expect(store.size, `round ${round}`).toBe(kept);
      }
      const jpeg = (await cached.render(0, crop, crop, { kind: 'encoded', format: 'jpeg', quality: 80 })) as Buffer;
      const ref = (await plain.render(0, crop, crop, { kind: 'encoded', format: 'jpeg', quality: 80 })) as Buffer;
      expect((await sharp(jpeg).raw().toBuffer()).equals(await sharp(ref).raw().toBuffer())).toBe(true);
    } finally {
      cached.close();
      plain.close();
    }
  });

  it("encodes JPEG in the same job: the pixels of libvips' encoder at that quality, baseline JFIF", async () => {
    const src = openLevel0(realPath('CMU-1-Small-Region.svs'));
    try {
      for (const quality of [40, 75, 95]) {
        const { grid, local } = await gridOf(src, { left: 300, top: 410, width: 256, height: 256 });
        const raw = await decodeGrid(grid, local);
        const jpeg = await encodeGrid(grid, local, quality);
        expect(jpeg.subarray(0, 4)).toEqual(Buffer.from([0xff, 0xd8, 0xff, 0xe0]));
        const ours = await sharp(jpeg).raw().toBuffer();
        const theirs = await sharp(
          await sharp(raw.data, { raw: { width: 256, height: 256, channels: 3 } })
            .jpeg({ quality })
            .toBuffer(),
        )
          .raw()
          .toBuffer();
        expect(ours.equals(theirs), `quality ${quality}`).toBe(true);
      }
    } finally {
      src.close();
    }
  });

  it("refuses corrupt and truncated tiles with the decoder's reason", async () => {
    const good = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#336699' } })
      .jpeg()
      .toBuffer();
    const grid = (tile: Buffer) => ({ tiles: [tile], across: 1, tileWidth: 64, tileHeight: 64 });
    const whole = { left: 0, top: 0, width: 64, height: 64 };
    await expect(decodeGrid(grid(good.subarray(0, good.length >> 1)), whole)).rejects.toThrow(
      /JPEG tile: Premature end/,
    );
    await expect(decodeGrid(grid(Buffer.from('not a jpeg at all')), whole)).rejects.toThrow(
      /JPEG tile: Not a JPEG file/,
    );
    await expect(decodeGrid(grid(Buffer.alloc(0)), whole)).rejects.toThrow(/JPEG tile/);
    // A tile smaller than the TIFF says: refused, never read past.
    await expect(
      decodeGrid(
        { tiles: [good], across: 1, tileWidth: 128, tileHeight: 128 },
        { left: 0, top: 0, width: 100, height: 100 },
      ),
    ).rejects.toThrow(/smaller than the TIFF tile size/);
    // One claiming far more than the tile size: refused before it allocates anything.
    const huge = await sharp({ create: { width: 4000, height: 300, channels: 3, background: '#336699' } })
      .jpeg({ progressive: true })
      .toBuffer();
    await expect(
      decodeGrid(
        { tiles: [huge], across: 1, tileWidth: 256, tileHeight: 256 },
        { left: 0, top: 0, width: 64, height: 64 },
      ),
    ).rejects.toThrow(/larger than the TIFF tile size/);
    const cmyk = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#336699' } })
      .toColourspace('cmyk')
      .jpeg()
      .toBuffer();
    await expect(decodeGrid(grid(cmyk), whole)).rejects.toThrow(/4 components/);
  });

  it('refuses a region the tiles do not cover (or an empty one, or a bad quality), without decoding', async () => {
    const t = await sharp({ create: { width: 16, height: 16, channels: 3, background: '#000' } })
      .jpeg()
      .toBuffer();
    const g = { tiles: [t, t], across: 2, tileWidth: 16, tileHeight: 16 };
    await expect(decodeGrid(g, { left: 20, top: 0, width: 13, height: 4 })).rejects.toThrow(RangeError);
    await expect(decodeGrid(g, { left: -1, top: 0, width: 4, height: 4 })).rejects.toThrow(RangeError);
    await expect(decodeGrid(g, { left: 0, top: 10, width: 4, height: 7 })).rejects.toThrow(RangeError);
    await expect(decodeGrid({ ...g, across: 3 }, { left: 0, top: 0, width: 4, height: 4 })).rejects.toThrow(RangeError);
    await expect(encodeGrid(g, { left: 0, top: 0, width: 4, height: 4 }, 101)).rejects.toThrow(RangeError);
    await expect(encodeGrid(g, { left: 0, top: 0, width: 4, height: 4 }, 0)).rejects.toThrow(TypeError);
    await expect(decodeGrid(g, { left: 0, top: 0, width: 0, height: 4 })).rejects.toThrow(RangeError);
  });

  it('in a slide source: a tile it cannot read goes to libvips, which answers (or refuses) as before', async () => {
    // A CMYK JPEG tile: libjpeg-turbo cannot give RGB; libvips converts it.
    const file = join(dir, 'cmyk.tif');
    await sharp({ create: { width: 300, height: 200, channels: 3, background: '#8040c0' } })
      .tiff({ tile: true, tileWidth: 256, tileHeight: 256, compression: 'jpeg' })
      .toFile(file);
    // Swap the tile for a CMYK one of the same size, keeping the TIFF's structure.
    const bytes = readFileSync(file);
    const d = parseTiff((o, l) => bytes.subarray(o, o + l), bytes.length).ifds[0]!;
    const offsets = d.arrays.get(TAG.TileOffsets)!;
    const counts = d.arrays.get(TAG.TileByteCounts)!;
    const cmyk = await sharp({ create: { width: 256, height: 256, channels: 3, background: '#8040c0' } })
      .toColourspace('cmyk')
      .jpeg({ quality: 30 })
      .toBuffer();
    expect(cmyk.length).toBeLessThan(counts[0]!);
    const patched = Buffer.concat([bytes, cmyk]);
    // Point tile 0 at the CMYK stream appended to the file (the tables, if any, are ignored by a full stream).
    patched.writeUInt32LE(
      bytes.length,
      offsets.length === 1 ? tagValueOffset(bytes, TAG.TileOffsets) : readU32Array(bytes, TAG.TileOffsets),
    );
    patched.writeUInt32LE(
      cmyk.length,
      offsets.length === 1 ? tagValueOffset(bytes, TAG.TileByteCounts) : readU32Array(bytes, TAG.TileByteCounts),
    );
    writeFileSync(file, patched);
    const reasons: string[] = [];
    const src = openLevel0(file, { native: true, onNativeFallback: (r) => reasons.push(r) });
    try {
      const crop = { left: 10, top: 10, width: 100, height: 100 };
      const out = (await src.render(0, crop, crop, { kind: 'raw' })) as { data: Buffer; channels: number };
      expect(reasons).toEqual([expect.stringMatching(/4 components/)]);
      expect(out.channels).toBe(3);
      expect(out.data.length).toBe(100 * 100 * 3);
    } finally {
      src.close();
    }
  });
});

/** Where a single-valued LONG tag keeps its value: in the entry itself (classic TIFF, little-endian). */
function tagValueOffset(b: Buffer, tag: number): number {
  const ifd = b.readUInt32LE(4);
  const n = b.readUInt16LE(ifd);
  for (let e = 0; e < n; e++) {
    const at = ifd + 2 + e * 12;
    if (b.readUInt16LE(at) === tag) return at + 8;
  }
  throw new Error(`tag ${tag} not found`);
}

/** Where the first value of a multi-valued LONG tag lies (classic TIFF, little-endian). */
function readU32Array(b: Buffer, tag: number): number {
  return b.readUInt32LE(tagValueOffset(b, tag));
}

/** Offset of the first marker `code` (e.g. 0xc2 = SOF2) in a JPEG stream, walking the segments. */
function markerAt(jpeg: Buffer, code: number): number {
  for (let o = 2; o + 4 <= jpeg.length; o += 2 + jpeg.readUInt16BE(o + 2)) {
    if (jpeg[o] !== 0xff) break;
    if (jpeg[o + 1] === code) return o;
  }
  throw new Error(`marker ${code.toString(16)} not found`);
}

/** A small progressive JPEG whose frame header claims `width` x `height`. */
async function claiming(width: number, height: number): Promise<Buffer> {
  const jpeg = await sharp({ create: { width: 16, height: 16, channels: 3, background: '#336699' } })
    .jpeg({ progressive: true })
    .toBuffer();
  const sof = markerAt(jpeg, 0xc2);
  jpeg.writeUInt16BE(height, sof + 5);
  jpeg.writeUInt16BE(width, sof + 7);
  return jpeg;
}

describe('native JPEG region decoder: hostile tiles and arguments', () => {
  const corner = { left: 0, top: 0, width: 16, height: 16 };

  it('refuses a tile whose frame claims 32,767 x 32,767 in a grid of 16,384 px tiles (was 6.4 GB), with TILE_TOO_LARGE', async () => {
    const tile = await claiming(32767, 32767);
    expect(tile.length).toBeLessThan(1024);
    // The grid itself is beyond the absolute cap: refused as an argument.
    await expect(decodeGrid({ tiles: [tile], across: 1, tileWidth: 16384, tileHeight: 16384 }, corner)).rejects.toThrow(
      /tileWidth \* tileHeight/,
    );
    // Within twice a 4096 px tile, above the absolute frame cap: refused from the header, as an AppError.
    const wide = await claiming(4100, 4100);
    const err = await appErrorOf(() =>
      decodeGrid({ tiles: [wide], across: 1, tileWidth: 4096, tileHeight: 4096 }, corner),
    );
    expect([err.status, err.code]).toEqual([503, 'TILE_TOO_LARGE']);
    expect(err.detail).toMatch(/4100x4100, larger than the TIFF tile size/);
    // And the same in the JPEG-encoding job.
    // A CMYK tile (which would go on to libvips) is refused for its size first.
    const cmyk = await sharp({ create: { width: 16, height: 16, channels: 3, background: '#336699' } })
      .toColourspace('cmyk')
      .jpeg()
      .toBuffer();
    const cmykSof = markerAt(cmyk, 0xc0);
    cmyk.writeUInt16BE(4100, cmykSof + 5);
    cmyk.writeUInt16BE(4100, cmykSof + 7);
    expect(
      (await appErrorOf(() => decodeGrid({ tiles: [cmyk], across: 1, tileWidth: 4096, tileHeight: 4096 }, corner)))
        .code,
    ).toBe('TILE_TOO_LARGE');
    const long = await claiming(8200, 100);
    const enc = await appErrorOf(() =>
      encodeGrid({ tiles: [long], across: 1, tileWidth: 4096, tileHeight: 4096 }, corner, 80),
    );
    expect(enc.code).toBe('TILE_TOO_LARGE');
  });

  it('refuses a progressive tile of more than 100 scans with TILE_TOO_MANY_SCANS', async () => {
    const jpeg = await sharp({ create: { width: 16, height: 16, channels: 3, background: '#336699' } })
      .jpeg({ progressive: true })
      .toBuffer();
    // The last scan (SOS to EOI) repeated: libjpeg warns of a bogus progression and goes on reading.
    let sos = -1;
    for (let o = jpeg.length - 3; o > 0; o--)
      if (jpeg[o] === 0xff && jpeg[o + 1] === 0xda) {
        sos = o;
        break;
      }
    const scan = jpeg.subarray(sos, jpeg.length - 2);
    const ok = Buffer.concat([
      jpeg.subarray(0, jpeg.length - 2),
      ...Array<Buffer>(20).fill(scan),
      Buffer.from([0xff, 0xd9]),
    ]);
    const grid = (t: Buffer) => ({ tiles: [t], across: 1, tileWidth: 16, tileHeight: 16 });
    expect((await decodeGrid(grid(ok), corner)).data.length).toBe(16 * 16 * 3);
    const many = Buffer.concat([
      jpeg.subarray(0, jpeg.length - 2),
      ...Array<Buffer>(120).fill(scan),
      Buffer.from([0xff, 0xd9]),
    ]);
    expect((await appErrorOf(() => decodeGrid(grid(many), corner))).code).toBe('TILE_TOO_MANY_SCANS');
  });

  it('refuses left/top beyond 2^63, NaN, fractions and sizes beyond the caps; never hands back an unwritten buffer', async () => {
    const t = await sharp({ create: { width: 16, height: 16, channels: 3, background: '#000' } })
      .jpeg()
      .toBuffer();
    const g = { tiles: [t, t], across: 2, tileWidth: 16, tileHeight: 16 };
    for (const bad of [
      { left: 2 ** 63, top: 0, width: 4, height: 4 },
      { left: 0, top: 2 ** 64, width: 4, height: 4 },
      { left: -(2 ** 63), top: 0, width: 4, height: 4 },
      { left: Number.NaN, top: 0, width: 4, height: 4 },
      { left: 1.5, top: 0, width: 4, height: 4 },
    ]) {
      await expect(decodeGrid(g, bad), JSON.stringify(bad)).rejects.toThrow(RangeError);
    }
    // Sizes the JS side would not even allocate: checked in C (the JPEG job has no JS canvas).
    for (const width of [2 ** 32 + 4, Number.POSITIVE_INFINITY, 2 ** 28 + 1]) {
      await expect(encodeGrid(g, { left: 0, top: 0, width, height: 4 }, 80), String(width)).rejects.toThrow(RangeError);
    }
    await expect(decodeGrid({ ...g, tileWidth: 2 ** 32 + 16 }, corner)).rejects.toThrow(RangeError);
    await expect(decodeGrid({ ...g, across: 0 }, corner)).rejects.toThrow(RangeError);
    await expect(decodeGrid({ ...g, tiles: [] }, corner)).rejects.toThrow(RangeError);
    // The largest left that fits decodes, and every byte is the tile's (black), none left over.
    const raw = await decodeGrid(g, { left: 28, top: 12, width: 4, height: 4 });
    expect(raw.data.every((v) => v < 8)).toBe(true);
  });
});
