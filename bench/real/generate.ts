/**
 * Writes the real-size bench slides: tiled BigTIFF pyramids with Camelyon16's geometry, 512 px
 * JPEG tiles at quality 70 (as the originals), and EVERY stored tile different: each is a crop
 * (offset, mirroring) of one of a few H&E-like textures drawn from the slide's seed, at a place
 * given by a bijection of the tile's number (geometry.ts tileContent), so no two tiles of a slide
 * share bytes and the slides' textures differ. Lower levels are drawn the same way (not
 * downsampled from level 0): what a bench reads there costs the same as real content.
 *
 * Speed: the textures are made once per slide; each tile is one sharp pipeline (extract, mirror,
 * JPEG with the standard Huffman tables so every tile shares one JPEGTables); 4 pipelines in
 * flight on libuv's pool keep both cores busy (sharp.concurrency(1): one libvips thread each).
 * Tiles are appended as they finish; the directories go at the end, the header last, then the
 * file is renamed from its .partial name.
 */
import { createHash } from 'node:crypto';
import { closeSync, fdatasyncSync, openSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
import sharp from 'sharp';
import { heImage } from '../camelyon-tiff.js';
import { readTiffFile, TAG } from '../../src/slides/tiff.js';
import { mulberry32 } from '../../src/prng.js';
import {
  contentSpaceSize,
  realLevels,
  REAL_QUALITY,
  REAL_TILE,
  tileContent,
  tileIsTissue,
  tilesAcross,
  type ContentSpace,
  type RealSlideSpec,
} from './geometry.js';
import { rational, u16s, u32 } from '../tiff-values.js';

const T = REAL_TILE;

interface Texture {
  data: Buffer;
  width: number;
  height: number;
}

/** Tissue textures: heImage's three tissue columns (1536 x 1024) of a few seeds. */
function tissueTextures(seed: number, n: number): Texture[] {
  return Array.from({ length: n }, (_, k) => {
    const img = heImage(seed * 16 + k);
    const width = 3 * T;
    const data = Buffer.alloc(width * img.height * 3);
    for (let y = 0; y < img.height; y++)
      img.data.copy(data, y * width * 3, y * img.width * 3, y * img.width * 3 + width * 3);
    return { data, width, height: img.height };
  });
}

/** Glass: near-white with faint, smooth blotches and sensor noise (1024 x 1024). */
function glassTexture(seed: number): Texture {
  const size = 2 * T;
  const rand = mulberry32(seed ^ 0x5eed);
  const data = Buffer.alloc(size * size * 3);
  const ph = [rand() * 6, rand() * 6, rand() * 6];
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const o = (y * size + x) * 3;
      const blot = Math.sin(x * 0.011 + ph[0]!) * Math.sin(y * 0.013 + ph[1]!) * 3;
      const n = (rand() - 0.5) * 3;
      data[o] = 240 + blot + n;
      data[o + 1] = 238 + blot * 0.8 + n;
      data[o + 2] = 243 + blot * 0.6 + n;
    }
  }
  return { data, width: size, height: size };
}

function space(tx: Texture[]): ContentSpace {
  return { textures: tx.length, xOffsets: tx[0]!.width - T + 1, yOffsets: tx[0]!.height - T + 1 };
}

/** Splits a baseline JPEG into its tables (DQT, DHT) and the abbreviated stream a TIFF tile holds. */
export function splitJpeg(jpeg: Buffer): { tables: Buffer; tile: Buffer } {
  if (jpeg[0] !== 0xff || jpeg[1] !== 0xd8) throw new Error('not a JPEG');
  const tables: Buffer[] = [];
  const rest: Buffer[] = [];
  let p = 2;
  for (;;) {
    if (jpeg[p] !== 0xff) throw new Error(`JPEG marker expected at ${p}`);
    const m = jpeg[p + 1]!;
    const len = jpeg.readUInt16BE(p + 2);
    const seg = jpeg.subarray(p, p + 2 + len);
    if (m === 0xda) {
      rest.push(jpeg.subarray(p)); // SOS, the entropy-coded data and EOI
      break;
    }
    if (m === 0xdb || m === 0xc4) tables.push(seg);
    else if (!(m >= 0xe0 && m <= 0xef)) rest.push(seg); // APPn (JFIF) dropped, SOF/DRI kept
    p += 2 + len;
  }
  const soi = Buffer.from([0xff, 0xd8]);
  const eoi = Buffer.from([0xff, 0xd9]);
  return { tables: Buffer.concat([soi, ...tables, eoi]), tile: Buffer.concat([soi, ...rest]) };
}

interface Job {
  level: number;
  index: number;
  tissue: boolean;
  n: number;
}

export interface WriteResult {
  ms: number;
  bytes: number;
  tiles: number;
  tissueTiles: number;
}

/** Writes one slide to `path` (through `path.partial`). */
export async function writeRealSlide(spec: RealSlideSpec, path: string): Promise<WriteResult> {
  const t0 = performance.now();
  sharp.concurrency(1);
  const tissue = tissueTextures(spec.seed, 3);
  const glass = [glassTexture(spec.seed)];
  const levels = realLevels(spec.width, spec.height);
  const jobs: Job[] = [];
  let nT = 0;
  let nG = 0;
  levels.forEach((l, level) => {
    const { across, down } = tilesAcross(l);
    for (let ty = 0; ty < down; ty++)
      for (let tx = 0; tx < across; tx++) {
        const t = tileIsTissue(spec, level, tx, ty);
        jobs.push({ level, index: ty * across + tx, tissue: t, n: t ? nT++ : nG++ });
      }
  });
  if (nT > contentSpaceSize(space(tissue)) || nG > contentSpaceSize(space(glass)))
    throw new Error(`${spec.id}: more tiles than distinct crops`);
  const offsets = levels.map((l) => new Array<number>(tilesAcross(l).across * tilesAcross(l).down).fill(0));
  const counts = offsets.map((o) => new Array<number>(o.length).fill(0));
  const partial = `${path}.partial`;
  const fd = openSync(partial, 'w');
  let pos = 16;
  let tables: Buffer | null = null;
  const append = (b: Buffer): number => {
    const at = pos;
    writeSync(fd, b, 0, b.length, at);
    pos += b.length + (b.length % 2);
    return at;
  };
  try {
    const encode = async (j: Job): Promise<void> => {
      const tx = j.tissue ? tissue : glass;
      const c = tileContent(j.n, spec.seed * 2 + (j.tissue ? 0 : 1), space(tx));
      const src = tx[c.texture]!;
      const jpeg = await sharp(src.data, { raw: { width: src.width, height: src.height, channels: 3 } })
        .extract({ left: c.left, top: c.top, width: T, height: T })
        .flip(c.flip)
        .flop(c.flop)
        .jpeg({ quality: REAL_QUALITY, optimiseCoding: false, chromaSubsampling: '4:2:0' })
        .toBuffer();
      const s = splitJpeg(jpeg);
      if (!tables) tables = s.tables;
      else if (!tables.equals(s.tables)) throw new Error(`${spec.id}: a tile's JPEG tables differ from the first's`);
      offsets[j.level]![j.index] = append(s.tile);
      counts[j.level]![j.index] = s.tile.length;
    };
    let next = 0;
    let failed = false;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        try {
          while (!failed && next < jobs.length) await encode(jobs[next++]!);
        } catch (e) {
          failed = true; // the other pipelines stop at their next tile
          throw e;
        }
      }),
    );
    writeDirectories(fd, append, spec, levels, offsets, counts, tables!);
    fdatasyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(partial, { force: true });
    throw e;
  }
  closeSync(fd);
  renameSync(partial, path);
  return { ms: performance.now() - t0, bytes: pos, tiles: jobs.length, tissueTiles: nT };
}

interface Entry {
  tag: number;
  type: number;
  count: number;
  value: Buffer | number;
}

const longs8 = (xs: number[]) => {
  const b = Buffer.alloc(Math.max(8, xs.length * 8));
  xs.forEach((x, i) => b.writeBigUInt64LE(BigInt(x), i * 8));
  return b;
};

/** The level directories (BigTIFF, one per level, chained), then the header pointing at the first. */
function writeDirectories(
  fd: number,
  append: (b: Buffer) => number,
  spec: RealSlideSpec,
  levels: Array<{ width: number; height: number }>,
  offsets: number[][],
  counts: number[][],
  tables: Buffer,
): void {
  const tablesAt = append(tables);
  const refBW = Buffer.alloc(48);
  [0, 255, 128, 255, 128, 255].forEach((v, i) => rational(v, 1).copy(refBW, i * 8));
  const refBWAt = append(refBW);
  const pxPerCm = 10_000 / spec.mpp;
  const bufs = levels.map((l, k) => {
    const n = offsets[k]!.length;
    // An array of one LONG8 fits in the entry itself, and TIFF readers expect it there.
    const arr = (xs: number[]): Buffer | number => (n > 1 ? append(longs8(xs)) : longs8(xs));
    const res = Math.round((pxPerCm / 2 ** k) * 1000);
    const entries: Entry[] = [
      { tag: TAG.NewSubfileType, type: 4, count: 1, value: u32(k === 0 ? 0 : 1) },
      { tag: TAG.ImageWidth, type: 4, count: 1, value: u32(l.width) },
      { tag: TAG.ImageLength, type: 4, count: 1, value: u32(l.height) },
      { tag: TAG.BitsPerSample, type: 3, count: 3, value: u16s(8, 8, 8) },
      { tag: TAG.Compression, type: 3, count: 1, value: u16s(7) },
      { tag: TAG.Photometric, type: 3, count: 1, value: u16s(6) },
      { tag: TAG.SamplesPerPixel, type: 3, count: 1, value: u16s(3) },
      { tag: TAG.XResolution, type: 5, count: 1, value: rational(res, 1000) },
      { tag: TAG.YResolution, type: 5, count: 1, value: rational(res, 1000) },
      { tag: TAG.PlanarConfig, type: 3, count: 1, value: u16s(1) },
      { tag: TAG.ResolutionUnit, type: 3, count: 1, value: u16s(3) },
      { tag: TAG.TileWidth, type: 4, count: 1, value: u32(T) },
      { tag: TAG.TileLength, type: 4, count: 1, value: u32(T) },
      { tag: TAG.TileOffsets, type: 16, count: n, value: arr(offsets[k]!) },
      { tag: TAG.TileByteCounts, type: 16, count: n, value: arr(counts[k]!) },
      { tag: TAG.JPEGTables, type: 7, count: tables.length, value: tablesAt },
      { tag: TAG.YCbCrSubsampling, type: 3, count: 2, value: u16s(2, 2) },
      { tag: 532, type: 5, count: 6, value: refBWAt },
    ];
    entries.sort((a, b) => a.tag - b.tag);
    const buf = Buffer.alloc(8 + entries.length * 20 + 8);
    buf.writeBigUInt64LE(BigInt(entries.length), 0);
    entries.forEach((e, i) => {
      const o = 8 + i * 20;
      buf.writeUInt16LE(e.tag, o);
      buf.writeUInt16LE(e.type, o + 2);
      buf.writeBigUInt64LE(BigInt(e.count), o + 4);
      if (typeof e.value === 'number') buf.writeBigUInt64LE(BigInt(e.value), o + 12);
      else e.value.copy(buf, o + 12, 0, 8);
    });
    return buf;
  });
  // Directories are written last, so each one's "next" is known: the following one's place.
  const sizes = bufs.map((b) => b.length + (b.length % 2));
  let at = append(Buffer.alloc(0));
  const places = sizes.map((s) => {
    const p = at;
    at += s;
    return p;
  });
  bufs.forEach((b, k) => {
    if (k + 1 < bufs.length) b.writeBigUInt64LE(BigInt(places[k + 1]!), b.length - 8);
    const p = append(b);
    if (p !== places[k]) throw new Error('directory placement');
  });
  const header = Buffer.alloc(16);
  header.write('II', 0, 'latin1');
  header.writeUInt16LE(43, 2);
  header.writeUInt16LE(8, 4);
  header.writeBigUInt64LE(BigInt(places[0]!), 8);
  writeSync(fd, header, 0, 16, 0);
}

/**
 * Reads a written slide back: every stored tile of every level hashed (SHA-1) and all different,
 * and one level-0 tile at the slide's centre decoded by sharp through the TIFF to 512 x 512.
 */
export async function verifyRealSlide(path: string): Promise<{ tiles: number; distinct: number }> {
  const tiff = readTiffFile(path);
  const fd = openSync(path, 'r');
  const seen = new Set<string>();
  let tiles = 0;
  try {
    for (const ifd of tiff.ifds) {
      const off = ifd.arrays.get(TAG.TileOffsets)!;
      const cnt = ifd.arrays.get(TAG.TileByteCounts)!;
      for (let i = 0; i < off.length; i++) {
        const b = Buffer.allocUnsafe(Number(cnt[i]));
        readSync(fd, b, 0, b.length, Number(off[i]));
        seen.add(createHash('sha1').update(b).digest('hex'));
        tiles++;
      }
    }
  } finally {
    closeSync(fd);
  }
  if (seen.size !== tiles) throw new Error(`${path}: ${tiles - seen.size} of ${tiles} stored tiles repeat another`);
  const w = tiff.ifds[0]!.num.get(TAG.ImageWidth)!;
  const h = tiff.ifds[0]!.num.get(TAG.ImageLength)!;
  const left = Math.floor(w / 2 / T) * T;
  const top = Math.floor(h / 2 / T) * T;
  const m = await sharp(path, { page: 0, limitInputPixels: false })
    .extract({ left, top, width: T, height: T })
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (m.info.width !== T || m.info.height !== T) throw new Error(`${path}: the centre tile does not decode`);
  return { tiles, distinct: seen.size };
}
