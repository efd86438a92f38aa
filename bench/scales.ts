/**
 * Several scales around one centre (issue #13): what a 3-scale sample (0.25, 1 and 4 um/px, 256 px
 * each) costs against a single-scale one at 0.25 um/px, through POST /batches on the annotated
 * Camelyon16-geometry slide. Target: at most 1.5x (the coarse scales read coarse levels).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { ANNOTATED_ID } from './datasets.js';
import type { Report } from './report.js';
import { probe, type Server } from './servers.js';
import { processTree } from './real/proc-stats.js';

const SAMPLES = 48;
/** Counted rounds (after one uncounted warm-up): CPU time is read in 10 ms ticks, so more rounds, less noise. */
const ROUNDS = 6;
const BODY = { classes: ['metastasis'], slides: [ANNOTATED_ID], minFraction: 0.5, count: SAMPLES, seed: 13 };
export const SINGLE_SCALE = { ...BODY, mpp: 0.25, size: 256 };
export const THREE_SCALES = {
  ...BODY,
  scales: [
    { mpp: 0.25, size: 256 },
    { mpp: 1, size: 256 },
    { mpp: 4, size: 256 },
  ],
};

export interface ScalesRun {
  samples: number;
  rounds: number;
  singleMsPerSample: number;
  threeScalesMsPerSample: number;
  ratio: number;
  /** CPU time of the service process (user + system, all its threads) per sample. */
  singleCpuMsPerSample: number | null;
  threeScalesCpuMsPerSample: number | null;
  cpuRatio: number | null;
}

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/**
 * CPU milliseconds a process has used (Linux /proc: utime + stime), or null elsewhere. On a busy
 * machine wall time swings with other work; the service's own CPU time per sample does not.
 */
function cpuMs(pid: number): number | null {
  // The whole service: with WORKERS > 1 the PID is the primary, and the work is in its workers.
  let total = 0;
  for (const p of processTree(pid)) {
    const c = processCpuMs(p);
    if (c === null) return null;
    total += c;
  }
  return total;
}

function processCpuMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return null;
  }
}

/** One batch, read to its end: wall and service CPU milliseconds. */
async function timeBatch(s: Server, body: object, epoch: number): Promise<{ ms: number; cpu: number | null }> {
  const c0 = cpuMs(s.pid);
  const t0 = performance.now();
  const p = await probe(`${s.base}/batches`, 'application/x-tar', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...body, epoch }),
  });
  const ms = performance.now() - t0;
  const c1 = cpuMs(s.pid);
  if (p.bytes.length < SAMPLES * 1024) throw new Error(`POST /batches: only ${p.bytes.length} bytes`);
  return { ms, cpu: c0 === null || c1 === null ? null : c1 - c0 };
}

/**
 * Both batches draw the same patches (the first scale is the sampled one), a new epoch each round
 * (new places on the slide); the order alternates so neither always comes second to a warm cache.
 * The first round warms the service up and is not counted.
 */
export async function timeScales(s: Server, report: Report): Promise<ScalesRun> {
  const single: Array<{ ms: number; cpu: number | null }> = [];
  const three: Array<{ ms: number; cpu: number | null }> = [];
  for (let round = 0; round <= ROUNDS; round++) {
    let one: { ms: number; cpu: number | null };
    let multi: { ms: number; cpu: number | null };
    if (round % 2 === 0) {
      one = await timeBatch(s, SINGLE_SCALE, round);
      multi = await timeBatch(s, THREE_SCALES, round);
    } else {
      multi = await timeBatch(s, THREE_SCALES, round);
      one = await timeBatch(s, SINGLE_SCALE, round);
    }
    if (round === 0) continue;
    single.push(one);
    three.push(multi);
  }
  const perSample = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length / SAMPLES;
  const cpuPerSample = (xs: Array<{ cpu: number | null }>) =>
    xs.some((x) => x.cpu === null) ? null : perSample(xs.map((x) => x.cpu!));
  const [oneCpu, threeCpu] = [cpuPerSample(single), cpuPerSample(three)];
  const run: ScalesRun = {
    samples: SAMPLES,
    rounds: ROUNDS,
    singleMsPerSample: perSample(single.map((x) => x.ms)),
    threeScalesMsPerSample: perSample(three.map((x) => x.ms)),
    ratio: perSample(three.map((x) => x.ms)) / perSample(single.map((x) => x.ms)),
    singleCpuMsPerSample: oneCpu,
    threeScalesCpuMsPerSample: threeCpu,
    cpuRatio: oneCpu !== null && oneCpu > 0 && threeCpu !== null ? threeCpu / oneCpu : null,
  };
  report.value('patches', 'batch 1 scale 0.25 um/px', 'ms/sample', run.singleMsPerSample, null);
  report.value('patches', 'batch 3 scales 0.25/1/4 um/px', 'ms/sample', run.threeScalesMsPerSample, null);
  report.value('patches', '3 scales / 1 scale, wall time', 'x', run.ratio, null);
  report.value('patches', '3 scales / 1 scale, service CPU time', 'x', run.cpuRatio, { max: 1.5 });
  return run;
}
