/**
 * A BigTIFF with the geometry of a Camelyon16 slide (97792 x 221184, 10 levels, 512 px JPEG tiles,
 * 0.243 um/px) written in seconds: every TileOffsets entry points at one of a handful of real JPEG
 * tiles stored once, taken from a small TIFF that sharp (libvips/libtiff) writes of an H&E-like
 * image, with its JPEGTables. Tissue tiles fill an ellipse (a lymph-node section), glass tiles the
 * rest, so low levels look like a slide and uniform patches sometimes land on glass.
 */
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import sharp from 'sharp';
import { TAG, readTiffFile } from '../src/slides/tiff.js';
import { mulberry32 } from '../src/prng.js';
import { rational, u16s, u32 } from './tiff-values.js';

export const CAMELYON_WIDTH = 97792;
export const CAMELYON_HEIGHT = 221184;
export const CAMELYON_LEVELS = 10;
export const CAMELYON_MPP = 0.243;
const TILE = 512;
/** Source image: 4 x 2 tiles; the first three columns tissue, the last column glass. */
const SRC_COLS = 4;
const SRC_ROWS = 2;
/** Bump when the written bytes change, so cached files under var/bench are rewritten. */
export const CAMELYON_TIFF_VERSION = 3;

interface SourceTiles {
  tissue: Buffer[];
  glass: Buffer[];
  tables: Buffer;
  photometric: number;
  subsampling: number[] | null;
}

/** The project's seeded PRNG (src/prng.ts). */
const rng = mulberry32;

/** H&E-looking pixels: eosin-pink stroma with fibres, haematoxylin-purple nuclei, white gaps. */
export function heImage(seed = 39): { data: Buffer; width: number; height: number } {
  const width = SRC_COLS * TILE;
  const height = SRC_ROWS * TILE;
  const rand = rng(seed);
  const data = Buffer.alloc(width * height * 3);
  const tissueW = (SRC_COLS - 1) * TILE;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      if (x >= tissueW) {
        const n = (rand() - 0.5) * 6;
        data[o] = 242 + n;
        data[o + 1] = 240 + n;
        data[o + 2] = 244 + n;
        continue;
      }
      const fibre = Math.sin(x * 0.05 + Math.sin(y * 0.013) * 6) * 0.5 + 0.5;
      const n = (rand() - 0.5) * 24;
      data[o] = 228 - fibre * 30 + n;
      data[o + 1] = 150 - fibre * 40 + n;
      data[o + 2] = 196 - fibre * 20 + n;
    }
  }
  // Nuclei: dark purple ellipses, denser in the middle column (a tumour-like cluster).
  const nuclei = 2600;
  for (let k = 0; k < nuclei; k++) {
    const cx = rand() * tissueW;
    const cy = rand() * height;
    const dense = cx > TILE && cx < 2 * TILE;
    if (!dense && rand() < 0.45) continue;
    const rx = 3 + rand() * (dense ? 7 : 4);
    const ry = rx * (0.6 + rand() * 0.5);
    const shade = rand() * 40;
    for (let y = Math.max(0, Math.floor(cy - ry)); y < Math.min(height, cy + ry); y++) {
      for (let x = Math.max(0, Math.floor(cx - rx)); x < Math.min(tissueW, cx + rx); x++) {
        const d = ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2;
        if (d > 1) continue;
        const o = (y * width + x) * 3;
        data[o] = 70 + shade + d * 30;
        data[o + 1] = 40 + shade * 0.5 + d * 30;
        data[o + 2] = 120 + shade + d * 30;
      }
    }
  }
  // Fat cells / lumina: white holes in the first column.
  for (let k = 0; k < 40; k++) {
    const cx = rand() * TILE;
    const cy = rand() * height;
    const r = 10 + rand() * 30;
    for (let y = Math.max(0, Math.floor(cy - r)); y < Math.min(height, cy + r); y++) {
      for (let x = Math.max(0, Math.floor(cx - r)); x < Math.min(TILE, cx + r); x++) {
        if ((x - cx) ** 2 + (y - cy) ** 2 > r * r) continue;
        const o = (y * width + x) * 3;
        data[o] = 245;
        data[o + 1] = 238;
        data[o + 2] = 242;
      }
    }
  }
  return { data, width, height };
}

/** Writes the source TIFF with sharp and takes its raw (abbreviated) JPEG tiles and tables. */
export async function sourceTiles(srcPath: string): Promise<SourceTiles> {
  const img = heImage();
  await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
    .tiff({ tile: true, tileWidth: TILE, tileHeight: TILE, compression: 'jpeg', quality: 70, pyramid: false })
    .toFile(srcPath);
  const ifd = readTiffFile(srcPath).ifds[0]!;
  const offsets = ifd.arrays.get(TAG.TileOffsets);
  const counts = ifd.arrays.get(TAG.TileByteCounts);
  const tables = ifd.bytes.get(TAG.JPEGTables);
  if (!offsets || !counts || !tables || ifd.num.get(TAG.Compression) !== 7)
    throw new Error('sharp did not write a JPEG-tiled TIFF with JPEGTables');
  const fd = openSync(srcPath, 'r');
  const tiles: Buffer[] = [];
  try {
    for (let i = 0; i < offsets.length; i++) {
      const b = Buffer.alloc(counts[i]!);
      readSync(fd, b, 0, b.length, offsets[i]!);
      tiles.push(b);
    }
  } finally {
    closeSync(fd);
  }
  const tissue = tiles.filter((_, i) => i % SRC_COLS !== SRC_COLS - 1);
  const glass = tiles.filter((_, i) => i % SRC_COLS === SRC_COLS - 1);
  const sub = ifd.arrays.get(TAG.YCbCrSubsampling);
  return { tissue, glass, tables, photometric: ifd.num.get(TAG.Photometric) ?? 2, subsampling: sub ? [...sub] : null };
}

export interface LevelDims {
  width: number;
  height: number;
}

export function camelyonLevels(): LevelDims[] {
  const out: LevelDims[] = [{ width: CAMELYON_WIDTH, height: CAMELYON_HEIGHT }];
  while (out.length < CAMELYON_LEVELS) {
    const p = out[out.length - 1]!;
    out.push({ width: Math.floor(p.width / 2), height: Math.floor(p.height / 2) });
  }
  return out;
}

/** Which stored tile goes where: tissue inside the section's ellipse, glass outside. */
function pick(src: SourceTiles, level: number, tx: number, ty: number): number {
  const ds = 2 ** level;
  // The tile's point nearest the section's centre, in slide fractions from the centre.
  const near = (t: number, size: number) =>
    Math.min(Math.max(0.5, (t * TILE * ds) / size), ((t + 1) * TILE * ds) / size) - 0.5;
  const cx = near(tx, CAMELYON_WIDTH);
  const cy = near(ty, CAMELYON_HEIGHT);
  const h = (Math.imul(tx + 1, 73856093) ^ Math.imul(ty + 1, 19349663) ^ Math.imul(level + 1, 83492791)) >>> 0;
  const inside = (cx / 0.46) ** 2 + (cy / 0.44) ** 2 <= 1;
  return inside ? h % src.tissue.length : src.tissue.length + (h % src.glass.length);
}

interface Entry {
  tag: number;
  type: number;
  count: number;
  /** Inline value bytes (<= 8) or an offset into the file. */
  inline?: Buffer;
  offset?: number;
}

/** Writes the slide; returns the time it took. */
export async function writeCamelyonTiff(
  outPath: string,
  srcPath: string,
): Promise<{ ms: number; bytes: number; tiles: number }> {
  const t0 = performance.now();
  const src = await sourceTiles(srcPath);
  const stored = [...src.tissue, ...src.glass];
  const levels = camelyonLevels();
  const chunks: Buffer[] = [];
  let pos = 16;
  const put = (b: Buffer): number => {
    const at = pos;
    chunks.push(b);
    pos += b.length;
    if (pos % 2) {
      chunks.push(Buffer.alloc(1));
      pos += 1;
    }
    return at;
  };
  const tileAt = stored.map((b) => put(b));
  const tablesAt = put(src.tables);
  const refBW = Buffer.alloc(48);
  [0, 255, 128, 255, 128, 255].forEach((v, i) => rational(v, 1).copy(refBW, i * 8));
  const refBWAt = src.photometric === 6 ? put(refBW) : 0;
  const pxPerCm = 10_000 / CAMELYON_MPP;
  const ifdAt: number[] = [];
  const ifdBufs: Array<{ buf: Buffer; at: number }> = [];
  let tiles = 0;
  for (const [k, l] of levels.entries()) {
    const across = Math.ceil(l.width / TILE);
    const down = Math.ceil(l.height / TILE);
    const n = across * down;
    tiles += n;
    const offs = Buffer.alloc(n * 8);
    const cnts = Buffer.alloc(n * 8);
    for (let ty = 0, i = 0; ty < down; ty++) {
      for (let tx = 0; tx < across; tx++, i++) {
        const s = pick(src, k, tx, ty);
        offs.writeBigUInt64LE(BigInt(tileAt[s]!), i * 8);
        cnts.writeBigUInt64LE(BigInt(stored[s]!.length), i * 8);
      }
    }
    // An array of one LONG8 fits in the entry itself, and TIFF readers expect it there.
    const offsAt = n > 1 ? put(offs) : 0;
    const cntsAt = n > 1 ? put(cnts) : 0;
    const res = Math.round((pxPerCm / 2 ** k) * 1000);
    const entries: Entry[] = [
      { tag: TAG.NewSubfileType, type: 4, count: 1, inline: u32(k === 0 ? 0 : 1) },
      { tag: TAG.ImageWidth, type: 4, count: 1, inline: u32(l.width) },
      { tag: TAG.ImageLength, type: 4, count: 1, inline: u32(l.height) },
      { tag: TAG.BitsPerSample, type: 3, count: 3, inline: u16s(8, 8, 8) },
      { tag: TAG.Compression, type: 3, count: 1, inline: u16s(7) },
      { tag: TAG.Photometric, type: 3, count: 1, inline: u16s(src.photometric) },
      { tag: TAG.SamplesPerPixel, type: 3, count: 1, inline: u16s(3) },
      { tag: TAG.XResolution, type: 5, count: 1, inline: rational(res, 1000) },
      { tag: TAG.YResolution, type: 5, count: 1, inline: rational(res, 1000) },
      { tag: TAG.PlanarConfig, type: 3, count: 1, inline: u16s(1) },
      { tag: TAG.ResolutionUnit, type: 3, count: 1, inline: u16s(3) },
      { tag: TAG.TileWidth, type: 4, count: 1, inline: u32(TILE) },
      { tag: TAG.TileLength, type: 4, count: 1, inline: u32(TILE) },
      n > 1
        ? { tag: TAG.TileOffsets, type: 16, count: n, offset: offsAt }
        : { tag: TAG.TileOffsets, type: 16, count: 1, inline: offs },
      n > 1
        ? { tag: TAG.TileByteCounts, type: 16, count: n, offset: cntsAt }
        : { tag: TAG.TileByteCounts, type: 16, count: 1, inline: cnts },
      { tag: TAG.JPEGTables, type: 7, count: src.tables.length, offset: tablesAt },
    ];
    if (src.photometric === 6) {
      const [h, v] = src.subsampling ?? [2, 2];
      entries.push({ tag: TAG.YCbCrSubsampling, type: 3, count: 2, inline: u16s(h!, v!) });
      entries.push({ tag: 532, type: 5, count: 6, offset: refBWAt });
    }
    entries.sort((a, b) => a.tag - b.tag);
    const buf = Buffer.alloc(8 + entries.length * 20 + 8);
    buf.writeBigUInt64LE(BigInt(entries.length), 0);
    entries.forEach((e, i) => {
      const o = 8 + i * 20;
      buf.writeUInt16LE(e.tag, o);
      buf.writeUInt16LE(e.type, o + 2);
      buf.writeBigUInt64LE(BigInt(e.count), o + 4);
      if (e.inline) e.inline.copy(buf, o + 12);
      else buf.writeBigUInt64LE(BigInt(e.offset!), o + 12);
    });
    const at = put(buf);
    ifdAt.push(at);
    ifdBufs.push({ buf, at });
  }
  // Chain the directories: each one's "next" field points at the following level.
  for (let k = 0; k < ifdBufs.length - 1; k++) {
    const b = ifdBufs[k]!.buf;
    b.writeBigUInt64LE(BigInt(ifdAt[k + 1]!), b.length - 8);
  }
  const header = Buffer.alloc(16);
  header.write('II', 0, 'latin1');
  header.writeUInt16LE(43, 2);
  header.writeUInt16LE(8, 4);
  header.writeUInt16LE(0, 6);
  header.writeBigUInt64LE(BigInt(ifdAt[0]!), 8);
  const fd = openSync(outPath, 'w');
  try {
    writeSync(fd, header, 0, 16, 0);
    let at = 16;
    for (const c of chunks) {
      writeSync(fd, c, 0, c.length, at);
      at += c.length;
    }
  } finally {
    closeSync(fd);
  }
  return { ms: performance.now() - t0, bytes: pos, tiles };
}

/**
 * Checks the written slide decodes as the stored tiles do: a region of level 0 read by sharp equals
 * the source tile it points at, and the smallest level decodes whole.
 */
export async function verifyCamelyonTiff(path: string, srcPath: string): Promise<void> {
  const src = await sourceTiles(`${srcPath}.verify.tif`);
  const tx = 95;
  const ty = 215;
  const s = pick(src, 0, tx, ty);
  const sx = (s < src.tissue.length ? s % (SRC_COLS - 1) : SRC_COLS - 1) * TILE;
  const sy = (s < src.tissue.length ? Math.floor(s / (SRC_COLS - 1)) : s - src.tissue.length) * TILE;
  const got = await sharp(path, { page: 0, limitInputPixels: false })
    .extract({ left: tx * TILE, top: ty * TILE, width: TILE, height: TILE })
    .raw()
    .toBuffer();
  const want = await sharp(`${srcPath}.verify.tif`)
    .extract({ left: sx, top: sy, width: TILE, height: TILE })
    .raw()
    .toBuffer();
  if (!got.equals(want))
    throw new Error(`${path}: tile ${tx}_${ty} of level 0 does not decode to the stored source tile`);
  const low = await sharp(path, { page: CAMELYON_LEVELS - 1, limitInputPixels: false })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const last = camelyonLevels()[CAMELYON_LEVELS - 1]!;
  if (low.info.width !== last.width || low.info.height !== last.height)
    throw new Error(`${path}: smallest level is ${low.info.width}x${low.info.height}`);
}
