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
import { readFileSync } from 'node:fs';
import { decodeGrid, encodeGrid, nativeJpegStatus } from '../src/imaging/jpeg-native.js';
import { slideStructure } from '../src/slides/structure.js';
import { parseTiff } from '../src/slides/tiff.js';
import { tileRead, type DzGeometry, type SlideLevelGeometry } from '../src/tiles/deepzoom.js';
import { openSlideFile } from '../src/slides/file.js';
import { jpegGrid } from '../test/support/tile-grid.js';
import type { TileAddr } from './lists.js';

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
  const bytes = readFileSync(slidePath);
  const structure = slideStructure(parseTiff((o, l) => bytes.subarray(o, o + l), bytes.length));
  const levels: SlideLevelGeometry[] = structure.levels.map((l) => ({
    width: l.width,
    height: l.height,
    downsample: l.downsample,
  }));
  const src = openSlideFile(
    slidePath,
    structure.levels.map((l) => ({
      ifd: l.ifd,
      width: l.width,
      height: l.height,
      tileWidth: l.tileWidth,
      tileHeight: l.tileHeight,
    })),
  );
  try {
    const run = async (encode: boolean) => {
      let next = 0;
      let done = 0;
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const until = t0 + seconds * 1000;
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          while (performance.now() < until && next < tiles.length) {
            const t = tiles[next++]!;
            const r = tileRead(dz, levels, t.level, t.col, t.row)!;
            const { grid, local } = await jpegGrid(src, r.slideLevel, {
              left: r.lX,
              top: r.lY,
              width: r.lWidth,
              height: r.lHeight,
            });
            await (encode ? encodeGrid(grid, local, quality) : decodeGrid(grid, local));
            done++;
          }
        }),
      );
      const wall = (performance.now() - t0) / 1000;
      const cpu = process.cpuUsage(cpu0);
      const cpuMsPerTile = (cpu.user + cpu.system) / 1000 / Math.max(1, done);
      return { tiles: done, tilesPerSec: done / wall, cpuMsPerTile, twoCoreTilesPerSec: 2000 / cpuMsPerTile };
    };
    return { decode: await run(false), decodeAndEncode: await run(true) };
  } finally {
    src.close();
  }
}
