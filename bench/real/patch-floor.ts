/**
 * The codec floor of 256 px level-0 patches: the same cold list read (pread of the stored tiles
 * under each patch), decoded and encoded (JPEG, the /region default quality) in-process by the
 * service's native region decoder, with no HTTP, no JavaScript routing and no cache; 4 jobs in
 * flight on libuv's pool. Its CPU time per patch (all threads) is what one core spends on the
 * codec alone: 1000 / cpuMsPerPatch is the per-core ceiling a server could reach.
 */
import { encodeGrid, nativeJpegStatus } from '../../src/imaging/jpeg-native.js';
import { openSlideFile, type SlideFile } from '../../src/slides/file.js';
import { slideStructure } from '../../src/slides/structure.js';
import { readTiffFile } from '../../src/slides/tiff.js';
import { jpegGrid } from '../../test/support/tile-grid.js';
import type { Patch } from './geometry.js';

export interface PatchFloor {
  patches: number;
  seconds: number;
  patchesPerSec: number;
  cpuMsPerPatch: number;
  perCorePatchesPerSec: number;
}

function open(path: string): SlideFile {
  const s = slideStructure(readTiffFile(path));
  return openSlideFile(
    path,
    s.levels.map((l) => ({
      ifd: l.ifd,
      width: l.width,
      height: l.height,
      tileWidth: l.tileWidth,
      tileHeight: l.tileHeight,
    })),
  );
}

export async function patchFloor(
  paths: Record<string, string>,
  patches: Patch[],
  size: number,
  seconds: number,
  quality = 90,
): Promise<PatchFloor | null> {
  if (!nativeJpegStatus().available) return null;
  const files = new Map(Object.entries(paths).map(([id, p]) => [id, open(p)]));
  try {
    let next = 0;
    let done = 0;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const until = t0 + seconds * 1000;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (performance.now() < until && next < patches.length) {
          const p = patches[next++]!;
          const { grid, local } = await jpegGrid(files.get(p.id)!, 0, {
            left: p.x,
            top: p.y,
            width: size,
            height: size,
          });
          await encodeGrid(grid, local, quality);
          done++;
        }
      }),
    );
    const wall = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const cpuMsPerPatch = (cpu.user + cpu.system) / 1000 / Math.max(1, done);
    return {
      patches: done,
      seconds: wall,
      patchesPerSec: done / wall,
      cpuMsPerPatch,
      perCorePatchesPerSec: 1000 / cpuMsPerPatch,
    };
  } finally {
    for (const f of files.values()) f.close();
  }
}
