/**
 * A tiny TIFF / BigTIFF writer for tests: directories of tags laid out byte by byte, so tests can
 * build exactly the structures (and the broken ones) real files rarely show.
 */
import { TAG } from '../../src/slides/tiff.js';

export interface Entry {
  tag: number;
  /** TIFF field type: 1 BYTE, 2 ASCII, 3 SHORT, 4 LONG, 5 RATIONAL (values as num, den pairs), 7 UNDEFINED, 12 DOUBLE, 16 LONG8. */
  type: number;
  values: number[] | string;
  /** Declared count, when a test wants it to lie. */
  count?: number;
}

export interface TiffLayout {
  littleEndian?: boolean;
  bigTiff?: boolean;
}

const SIZE: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 7: 1, 12: 8, 16: 8 };

/** Lays out the directories one after the other, each followed by its out-of-line values. */
export function buildTiff(ifds: Entry[][], layout: TiffLayout = {}): Buffer {
  const le = layout.littleEndian ?? true;
  const big = layout.bigTiff ?? false;
  const chunks: Buffer[] = [];
  let pos = big ? 16 : 8;
  const head = Buffer.alloc(pos);
  head.write(le ? 'II' : 'MM', 0, 'latin1');
  u16(head, 2, big ? 43 : 42, le);
  if (big) {
    u16(head, 4, 8, le);
    u64(head, 8, ifds.length ? pos : 0, le);
  } else u32(head, 4, ifds.length ? pos : 0, le);
  chunks.push(head);
  ifds.forEach((entries, k) => {
    const sorted = [...entries].sort((a, b) => a.tag - b.tag);
    const slot = big ? 8 : 4;
    const tableSize = (big ? 8 : 2) + sorted.length * (big ? 20 : 12) + slot;
    const table = Buffer.alloc(tableSize);
    let extraAt = pos + tableSize;
    const extras: Buffer[] = [];
    if (big) u64(table, 0, sorted.length, le);
    else u16(table, 0, sorted.length, le);
    sorted.forEach((e, i) => {
      const data = encode(e, le);
      const o = (big ? 8 : 2) + i * (big ? 20 : 12);
      u16(table, o, e.tag, le);
      u16(table, o + 2, e.type, le);
      const count = e.count ?? (e.type === 5 ? (e.values as number[]).length / 2 : data.length / (SIZE[e.type] ?? 1));
      if (big) u64(table, o + 4, count, le);
      else u32(table, o + 4, count, le);
      const valueAt = o + (big ? 12 : 8);
      if (data.length <= slot) data.copy(table, valueAt);
      else {
        if (big) u64(table, valueAt, extraAt, le);
        else u32(table, valueAt, extraAt, le);
        extras.push(data);
        extraAt += data.length;
      }
    });
    const next = k + 1 < ifds.length ? extraAt : 0;
    if (big) u64(table, tableSize - 8, next, le);
    else u32(table, tableSize - 4, next, le);
    chunks.push(table, ...extras);
    pos = extraAt;
  });
  return Buffer.concat(chunks);
}

/** The tags of one tiled level (no pixel data: the reader never needs it). */
export function tiledLevel(width: number, height: number, tile = 256, extra: Entry[] = []): Entry[] {
  const tiles = Math.ceil(width / tile) * Math.ceil(height / tile);
  return [
    { tag: TAG.ImageWidth, type: 4, values: [width] },
    { tag: TAG.ImageLength, type: 4, values: [height] },
    { tag: TAG.Compression, type: 3, values: [7] },
    { tag: TAG.Photometric, type: 3, values: [6] },
    { tag: TAG.TileWidth, type: 3, values: [tile] },
    { tag: TAG.TileLength, type: 3, values: [tile] },
    { tag: TAG.TileOffsets, type: 4, values: Array.from({ length: tiles }, (_, i) => 1000 + i) },
    { tag: TAG.TileByteCounts, type: 4, values: Array(tiles).fill(1) },
    ...extra,
  ];
}

/** An associated image stored as strips (Aperio label, macro, thumbnail). */
export function stripImage(width: number, height: number, extra: Entry[] = []): Entry[] {
  return [
    { tag: TAG.ImageWidth, type: 4, values: [width] },
    { tag: TAG.ImageLength, type: 4, values: [height] },
    { tag: TAG.Compression, type: 3, values: [5] },
    { tag: TAG.StripOffsets, type: 4, values: [100] },
    { tag: TAG.StripByteCounts, type: 4, values: [10] },
    ...extra,
  ];
}

/** Patches a 32-bit value at `offset` in place (for breaking files on purpose). */
export function patchU32(buf: Buffer, offset: number, value: number, le = true): Buffer {
  u32(buf, offset, value, le);
  return buf;
}

function encode(e: Entry, le: boolean): Buffer {
  if (e.type === 2) return Buffer.from(`${e.values as string}\0`, 'latin1');
  const values = e.values as number[];
  const size = e.type === 5 ? 4 : (SIZE[e.type] ?? 1);
  const out = Buffer.alloc(values.length * size);
  values.forEach((v, i) => {
    if (size === 1) out.writeUInt8(v, i);
    else if (size === 2) u16(out, i * 2, v, le);
    else if (size === 4) u32(out, i * 4, v, le);
    else if (e.type === 12 && le) out.writeDoubleLE(v, i * 8);
    else if (e.type === 12) out.writeDoubleBE(v, i * 8);
    else u64(out, i * 8, v, le);
  });
  return out;
}

function u16(b: Buffer, o: number, v: number, le: boolean): void {
  if (le) b.writeUInt16LE(v, o);
  else b.writeUInt16BE(v, o);
}

function u32(b: Buffer, o: number, v: number, le: boolean): void {
  if (le) b.writeUInt32LE(v >>> 0, o);
  else b.writeUInt32BE(v >>> 0, o);
}

function u64(b: Buffer, o: number, v: number | bigint, le: boolean): void {
  if (le) b.writeBigUInt64LE(BigInt(v), o);
  else b.writeBigUInt64BE(BigInt(v), o);
}
