/**
 * What the disk gives, cold: the stored level-0 tiles under the patch list read with plain preads
 * (libuv's pool, fs.promises), one at a time and 8 in flight. Tiles/s at depth 1 bounds a server
 * that waits for each read in turn (a synchronous pread on the JavaScript thread); depth 8 shows
 * what overlapping the reads of 8 connections would give. No decode: the disk alone.
 */
import { open } from 'node:fs/promises';
import { readTiffFile, TAG } from '../../src/slides/tiff.js';
import type { Patch } from './geometry.js';
import { REAL_TILE } from './geometry.js';

export interface DiskRun {
  depth: number;
  reads: number;
  seconds: number;
  readsPerSec: number;
  mbPerSec: number;
  meanKiB: number;
}

interface Read {
  path: string;
  offset: number;
  length: number;
}

/** The distinct stored tiles at the top-left of each patch, in list order (one read a patch). */
export function tileReads(paths: Record<string, string>, patches: Patch[]): Read[] {
  const index = new Map(
    Object.entries(paths).map(([id, p]) => {
      const d = readTiffFile(p).ifds[0]!;
      const w = d.num.get(TAG.ImageWidth)!;
      return [
        id,
        {
          path: p,
          across: Math.ceil(w / REAL_TILE),
          off: d.arrays.get(TAG.TileOffsets)!,
          cnt: d.arrays.get(TAG.TileByteCounts)!,
        },
      ];
    }),
  );
  return patches.map((p) => {
    const s = index.get(p.id)!;
    const i = Math.floor(p.y / REAL_TILE) * s.across + Math.floor(p.x / REAL_TILE);
    return { path: s.path, offset: Number(s.off[i]), length: Number(s.cnt[i]) };
  });
}

export async function diskRun(reads: Read[], depth: number, seconds: number): Promise<DiskRun> {
  const files = new Map<string, Awaited<ReturnType<typeof open>>>();
  for (const r of reads) if (!files.has(r.path)) files.set(r.path, await open(r.path, 'r'));
  try {
    let next = 0;
    let done = 0;
    let bytes = 0;
    const t0 = performance.now();
    const until = t0 + seconds * 1000;
    await Promise.all(
      Array.from({ length: depth }, async () => {
        while (performance.now() < until && next < reads.length) {
          const r = reads[next++]!;
          const b = Buffer.allocUnsafe(r.length);
          await files.get(r.path)!.read(b, 0, r.length, r.offset);
          done++;
          bytes += r.length;
        }
      }),
    );
    const s = (performance.now() - t0) / 1000;
    return {
      depth,
      reads: done,
      seconds: s,
      readsPerSec: done / s,
      mbPerSec: bytes / 1e6 / s,
      meanKiB: bytes / 1024 / Math.max(1, done),
    };
  } finally {
    for (const f of files.values()) await f.close();
  }
}
