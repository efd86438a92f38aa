/**
 * What the codec floors share (bench/codec-floor.ts for tiles, bench/real/patch-floor.ts for
 * patches): a slide file opened as the service opens it, and a timed loop of jobs kept in flight on
 * libuv's pool, counted in wall time and in the process's CPU time (all threads).
 */
import { openSlideFile, type SlideFile } from '../src/slides/file.js';
import { slideStructure } from '../src/slides/structure.js';
import { readTiffFile } from '../src/slides/tiff.js';
import type { SlideLevelGeometry } from '../src/tiles/deepzoom.js';

/** Jobs in flight: both cores busy, as under the service's load. */
const IN_FLIGHT = 4;

export interface BenchSlide {
  file: SlideFile;
  levels: SlideLevelGeometry[];
}

export function openBenchSlide(path: string): BenchSlide {
  const s = slideStructure(readTiffFile(path));
  const file = openSlideFile(
    path,
    s.levels.map((l) => ({
      ifd: l.ifd,
      width: l.width,
      height: l.height,
      tileWidth: l.tileWidth,
      tileHeight: l.tileHeight,
    })),
  );
  return { file, levels: s.levels.map((l) => ({ width: l.width, height: l.height, downsample: l.downsample })) };
}

export interface TimedJobs {
  done: number;
  wallSeconds: number;
  /** CPU time of the process (user + system, all threads) per job. */
  cpuMsPerJob: number;
}

/** Runs `job` over `items` in order, IN_FLIGHT at a time, until they or `seconds` run out. */
export async function timedJobs<T>(
  items: T[],
  seconds: number,
  job: (item: T) => Promise<unknown>,
): Promise<TimedJobs> {
  let next = 0;
  let done = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const until = t0 + seconds * 1000;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (performance.now() < until && next < items.length) {
        await job(items[next++]!);
        done++;
      }
    }),
  );
  const wallSeconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { done, wallSeconds, cpuMsPerJob: (cpu.user + cpu.system) / 1000 / Math.max(1, done) };
}
