/**
 * The real process: started as `npm start` starts it (src/server.ts), stopped with SIGTERM while a
 * batch streams. Readiness turns false first, the batch finishes whole, the process exits 0.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { untar } from '../support/tar.js';
import { signalProcess, startProcess, stopProcess, waitForLine, type Started } from '../../dev/procs.js';
import { ingest } from '../../src/indexer/ingest.js';
import { buildDataset } from '../support/core-dataset.js';

let dir: string;
let child: Started | null = null;
let port = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lifecycle-'));
  await buildDataset(join(dir, 'data'), { real: false });
  await ingest({ dataDir: join(dir, 'data'), indexPath: join(dir, 'index.sqlite') });
  child = startProcess('service', process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: join(dir, 'data'),
      INDEX_PATH: join(dir, 'index.sqlite'),
      INGEST_ON_START: 'false',
      LOG_LEVEL: 'info',
      READINESS_GRACE_MS: '1500',
      DRAIN_MS: '20000',
      // One process, as before WORKERS existed (test/cluster/workers.test.ts stops WORKERS=2).
      WORKERS: '1',
    },
  });
  port = Number(await waitForLine(child, 'listening line', (l) => /"port":(\d+)/.exec(l)?.[1], 30_000));
}, 60_000);

afterAll(async () => {
  if (child) await stopProcess(child);
  rmSync(dir, { recursive: true, force: true });
});

function get(path: string): Promise<number> {
  return fetch(`http://127.0.0.1:${port}${path}`).then(
    (r) => r.status,
    () => -1,
  );
}

describe('SIGTERM', () => {
  it('turns readiness off first, lets a streaming batch finish whole, then exits 0', async () => {
    expect(await get('/readyz')).toBe(200);
    const body = JSON.stringify({ classes: ['adipose', 'metastasis'], count: 40, size: 256, seed: 3, format: 'png' });
    const chunks: Buffer[] = [];
    let firstByte!: () => void;
    const started = new Promise<void>((resolve) => (firstByte = resolve));
    const done = new Promise<number>((resolve, reject) => {
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port,
          path: '/batches',
          method: 'POST',
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          res.on('data', (c: Buffer) => {
            chunks.push(c);
            firstByte();
          });
          res.on('end', () => resolve(res.statusCode ?? 0));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    await started;
    const exited = child!.done.then((e) => e.code);
    signalProcess(child!, 'SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    expect(await get('/readyz')).toBe(503); // still listening during the grace period, but not ready
    expect(await get('/healthz')).toBe(200);
    expect(await done).toBe(200);
    const names = [...(await untar(Buffer.concat(chunks))).keys()];
    expect(names).toHaveLength(120);
    expect(await exited).toBe(0);
    expect(await get('/healthz')).toBe(-1);
  }, 60_000);
});
