/**
 * The codec floor of 256 px level-0 patches: the same cold list read (pread of the stored tiles
 * under each patch), decoded and encoded (JPEG, the /region default quality) in-process by the
 * service's native region decoder, with no HTTP, no JavaScript routing and no cache; 4 jobs in
 * flight on libuv's pool. Its CPU time per patch (all threads) is what one core spends on the
 * codec alone: 1000 / cpuMsPerPatch is the per-core ceiling a server could reach.
 */
import { encodeGrid, nativeJpegStatus } from '../../src/imaging/jpeg-native.js';
import { jpegGrid } from '../../test/support/tile-grid.js';
import type { Patch } from './geometry.js';
import { openBenchSlide, timedJobs } from '../floor-loop.js';

export interface PatchFloor {
  patches: number;
  seconds: number;
  patchesPerSec: number;
  cpuMsPerPatch: number;
  perCorePatchesPerSec: number;
}

export async function patchFloor(
  paths: Record<string, string>,
  patches: Patch[],
  size: number,
  seconds: number,
  quality = 90,
): Promise<PatchFloor | null> {
  if (!nativeJpegStatus().available) return null;
  const files = new Map(Object.entries(paths).map(([id, p]) => [id, openBenchSlide(p).file]));
  try {
    const r = await timedJobs(patches, seconds, async (p) => {
      const region = { left: p.x, top: p.y, width: size, height: size };
      const { grid, local } = await jpegGrid(files.get(p.id)!, 0, region);
      await encodeGrid(grid, local, quality);
    });
    return {
      patches: r.done,
      seconds: r.wallSeconds,
      patchesPerSec: r.done / r.wallSeconds,
      cpuMsPerPatch: r.cpuMsPerJob,
      perCorePatchesPerSec: 1000 / r.cpuMsPerJob,
    };
  } finally {
    for (const f of files.values()) f.close();
  }
}
