/**
 * The Python client package (clients/python) against a real listening service (the demo
 * dataset at the tests' scale): its unittest suite (samples, shards, batches, masks, regions,
 * errors, retries, several scales per sample (tests/test_scales.py) and, when torch is installed, a DataLoader with
 * 2 workers, single- and multi-scale) must pass. Needs /usr/bin/python3 with numpy, PIL and requests
 * (Debian: python3-numpy python3-pil python3-requests; python3-torch for the DataLoader tests).
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listenDataset, pythonMissing, runPython, type ListeningService } from '../support/python-service.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLIENT_DIR = fileURLToPath(new URL('../../clients/python', import.meta.url));
const missing = pythonMissing();
/** Small, so the client's splitting of large shards (413 BATCH_TOO_LARGE) is exercised. */
const MAX_BATCH_SAMPLES = 16;

describe('clients/python', () => {
  let service: ListeningService | undefined;
  beforeAll(async () => {
    if (!missing) service = await listenDataset('demo', { maxBatchSamples: MAX_BATCH_SAMPLES });
  });
  afterAll(async () => {
    await service?.close();
  });

  it('passes its unittest suite against the running service', async (ctx) => {
    if (missing) {
      console.warn(`clients/python: skipped: ${missing}`);
      ctx.skip(missing);
    }
    const run = await runPython(['-m', 'unittest', 'discover', '-s', 'clients/python/tests', '-v'], {
      cwd: ROOT,
      env: { SERVICE_URL: service!.url, SERVICE_MAX_BATCH: String(MAX_BATCH_SAMPLES), PYTHONPATH: CLIENT_DIR },
      timeoutMs: 100_000,
    });
    const skipped = run.output.split('\n').filter((l) => / \.\.\. skipped /.test(l));
    if (skipped.length > 0) console.log(`python: ${skipped.length} skipped:\n${skipped.join('\n')}`);
    expect(run.timedOut, `python was killed after 100 s:\n${run.output}`).toBe(false);
    expect(run.code, `python -m unittest failed:\n${run.output}`).toBe(0);
    expect(run.output).toMatch(/^OK\b/m);
  }, 120_000);
});
