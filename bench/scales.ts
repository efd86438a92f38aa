/**
 * Several scales around one centre (issue #13): what a 3-scale sample (0.25, 1 and 4 um/px, 256 px
 * each) costs against a single-scale one at 0.25 um/px, through POST /batches on the annotated
 * Camelyon16-geometry slide. Target: at most 1.5x (the coarse scales read coarse levels).
 */
import { ANNOTATED_ID } from './datasets.js';
import type { Report } from './report.js';
import { probe, type Server } from './servers.js';

const SAMPLES = 48;
const ROUNDS = 3;
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
}

/** One batch, read to its end: milliseconds. */
async function timeBatch(s: Server, body: object, epoch: number): Promise<number> {
  const t0 = performance.now();
  const p = await probe(`${s.base}/batches`, 'application/x-tar', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...body, epoch }),
  });
  const ms = performance.now() - t0;
  if (p.bytes.length < SAMPLES * 1024) throw new Error(`POST /batches: only ${p.bytes.length} bytes`);
  return ms;
}

/**
 * Both batches draw the same patches (the first scale is the sampled one), a new epoch each round
 * (new places on the slide); the order alternates so neither always comes second to a warm cache.
 * The first round warms the service up and is not counted.
 */
export async function timeScales(s: Server, report: Report): Promise<ScalesRun> {
  const single: number[] = [];
  const three: number[] = [];
  for (let round = 0; round <= ROUNDS; round++) {
    let one: number;
    let multi: number;
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
  const run = {
    samples: SAMPLES,
    rounds: ROUNDS,
    singleMsPerSample: perSample(single),
    threeScalesMsPerSample: perSample(three),
    ratio: perSample(three) / perSample(single),
  };
  report.value('patches', 'batch 1 scale 0.25 um/px', 'ms/sample', run.singleMsPerSample, null);
  report.value('patches', 'batch 3 scales 0.25/1/4 um/px', 'ms/sample', run.threeScalesMsPerSample, null);
  report.value('patches', '3 scales / 1 scale cost', 'x', run.ratio, { max: 1.5 });
  return run;
}
