/**
 * The codec floor of the 254/1 geometry: the same cold tile list decoded in-process by the
 * service's native region decoder, with no HTTP, no cache and no encode, 4 jobs in flight on the
 * thread pool (both cores busy). No server can serve these tiles faster than their pixels can be
 * decoded: a 254/1 tile never coincides with a stored tile, so each one costs a (partial) decode
 * of the ~2.25 stored tiles under it, and then an encode on top.
 *
 * Wall-clock rates on a shared machine swing by a quarter from run to run; the CPU time the
 * process spends per tile (all threads) does much less, so the floor is also given as the rate
 * two cores would reach doing nothing else: 2 s of CPU per second / CPU per tile.
 */
import { decodeGrid, encodeGrid, nativeJpegStatus } from '../src/imaging/jpeg-native.js';
import { tileRead, type DzGeometry } from '../src/tiles/deepzoom.js';
import { jpegGrid } from '../test/support/tile-grid.js';
import type { TileAddr } from './lists.js';
import { openBenchSlide, timedJobs } from './floor-loop.js';

export interface CodecRun {
  tiles: number;
  /** Wall-clock rate with 4 jobs in flight. */
  tilesPerSec: number;
  /** CPU time of the process (all threads) per tile. */
  cpuMsPerTile: number;
  /** What 2 cores doing only this would reach: 2000 / cpuMsPerTile. */
  twoCoreTilesPerSec: number;
}

export interface CodecFloor {
  decode: CodecRun;
  decodeAndEncode: CodecRun;
}

export async function codecFloor(
  slidePath: string,
  dz: DzGeometry,
  tiles: TileAddr[],
  seconds: number,
  quality: number,
): Promise<CodecFloor | null> {
  if (!nativeJpegStatus().available) return null;
  const { file: src, levels } = openBenchSlide(slidePath);
  try {
    const run = async (encode: boolean): Promise<CodecRun> => {
      const r = await timedJobs(tiles, seconds, async (t) => {
        const at = tileRead(dz, levels, t.level, t.col, t.row)!;
        const region = { left: at.lX, top: at.lY, width: at.lWidth, height: at.lHeight };
        const { grid, local } = await jpegGrid(src, at.slideLevel, region);
        await (encode ? encodeGrid(grid, local, quality) : decodeGrid(grid, local));
      });
      const tilesPerSec = r.done / r.wallSeconds;
      return { tiles: r.done, tilesPerSec, cpuMsPerTile: r.cpuMsPerJob, twoCoreTilesPerSec: 2000 / r.cpuMsPerJob };
    };
    return { decode: await run(false), decodeAndEncode: await run(true) };
  } finally {
    src.close();
  }
}
