/**
 * The native Lanczos-3 resampler (native/jpeg-region/src/resample.c) alone, in-process: CPU time per
 * call of `resampleRaw` (one thread-pool job: the RGB copied into the job's canvas, resampled) for
 * the sizes the service resamples, minus the same job without the resample (the copy and the job's
 * own cost), so the figure is the resample's. `--compare=DIR` runs another tree's build in the same
 * rounds (DIR/src/imaging/jpeg-native.ts and its addon in DIR/native/jpeg-region/build, e.g. an
 * older commit's tree): rounds alternate, so the machine's changing load falls on both alike. CPU
 * time (all threads of the process), not wall time: other work on a shared machine changes it less.
 *
 *   npx tsx bench/resample.ts [--calls=300] [--rounds=7] [--compare=DIR]
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as current from '../src/imaging/jpeg-native.js';

type Build = Pick<typeof current, 'resampleRaw' | 'nativeJpegStatus'>;
type Size = { width: number; height: number };

const arg = (name: string, def: string): string =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? def;

/** Input -> output sizes: a patch 3% off a stored level (the common case), 2x and 4x down, 2x up. */
const CASES: Array<[string, Size, Size]> = [
  ['263 -> 256', { width: 263, height: 263 }, { width: 256, height: 256 }],
  ['512 -> 256', { width: 512, height: 512 }, { width: 256, height: 256 }],
  ['1024 -> 256', { width: 1024, height: 1024 }, { width: 256, height: 256 }],
  ['128 -> 256 (up)', { width: 128, height: 128 }, { width: 256, height: 256 }],
];

/** Tissue-like content (smooth with grain); the resampler's cost does not depend on it. */
function image({ width, height }: Size): Buffer {
  const data = Buffer.alloc(width * height * 3);
  let seed = 12345;
  for (let i = 0; i < data.length; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    const x = (i / 3) % width;
    const y = Math.floor(i / 3 / width);
    data[i] = (128 + 90 * Math.sin(x / 17 + (i % 3)) * Math.cos(y / 23) + (seed >>> 28)) & 255;
  }
  return data;
}

/** CPU milliseconds (all threads) per call of `calls` sequential jobs resampling `data` to `to`. */
async function cpuPerCall(build: Build, data: Buffer, from: Size, to: Size, calls: number): Promise<number> {
  const img = { data, ...from, channels: 3 };
  await build.resampleRaw(img, to); // the thread's filters and scratch made before timing
  const start = process.cpuUsage();
  for (let i = 0; i < calls; i++) await build.resampleRaw(img, to);
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000 / calls;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  const calls = Number(arg('calls', '300'));
  const rounds = Number(arg('rounds', '7'));
  const compare = arg('compare', '');
  const builds: Array<[string, Build]> = [['this tree', current]];
  if (compare) {
    const other = (await import(pathToFileURL(resolve(compare, 'src/imaging/jpeg-native.ts')).href)) as Build;
    builds.push([compare, other]);
  }
  for (const [name, b] of builds)
    if (!b.nativeJpegStatus().available) throw new Error(`${name}: ${b.nativeJpegStatus().reason ?? 'no addon'}`);
  console.log(`resample CPU per call (median of ${rounds} rounds of ${calls} calls, rounds alternating)`);
  for (const [label, from, to] of CASES) {
    const data = image(from);
    const ms = builds.map(() => ({ job: [] as number[], copy: [] as number[] }));
    const n = Math.max(20, Math.round((calls * 263 * 263) / (from.width * from.height)));
    for (let r = 0; r < rounds; r++)
      for (const [i, [, b]] of builds.entries()) {
        ms[i]!.job.push(await cpuPerCall(b, data, from, to, n));
        ms[i]!.copy.push(await cpuPerCall(b, data, from, from, n));
      }
    const resample = ms.map((m) => median(m.job) - median(m.copy));
    const cols = builds.map(
      ([name], i) =>
        `${name}: ${(resample[i]! * 1000).toFixed(0)} us (job ${(median(ms[i]!.job) * 1000).toFixed(0)} us)`,
    );
    const ratio = resample.length > 1 ? `  x${(resample[1]! / resample[0]!).toFixed(2)} faster` : '';
    console.log(`  ${label.padEnd(16)} ${cols.join('  |  ')}${ratio}`);
  }
}

await main();
