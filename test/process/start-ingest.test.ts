/**
 * The real process started on a data directory without an index: it listens at once, answers
 * /healthz, says not ready (/readyz and data routes 503) while the start-up ingest runs in its
 * worker thread, then serves the new index without a restart.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDataset, manifestJson } from '../support/core-dataset.js';
import { makeTempDir, removeTempDir } from '../support/core-fixtures.js';

let dir: string;
let child: ChildProcess | null = null;
let port = 0;
const stderr: string[] = [];

beforeAll(async () => {
  dir = makeTempDir('start-ingest');
  await buildDataset(join(dir, 'data'), { real: false });
  // 1 level-0 pixel per label pixel: an ingest of seconds, not milliseconds.
  writeFileSync(join(dir, 'data/manifest.json'), JSON.stringify(manifestJson(1)));
  child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: join(dir, 'data'),
      INDEX_PATH: join(dir, 'var/index.sqlite'),
      LOG_LEVEL: 'info',
      // The primary runs the start-up ingest once while both workers already answer.
      WORKERS: '2',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stderr!.on('data', (b: Buffer) => stderr.push(b.toString()));
  port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line: ${stderr.join('')}`)), 60_000);
    child!.stdout!.on('data', (b: Buffer) => {
      const m = /"port":(\d+)/.exec(b.toString());
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
  });
}, 120_000);

afterAll(() => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  removeTempDir(dir);
});

async function get(path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

describe('start-up ingest', () => {
  it('listens before the index exists: healthz 200, readyz and data 503, then the new index is served', async () => {
    // The listening line came before the ingest's report (written only when it is done).
    expect(stderr.join('')).not.toMatch(/ingest: published/);
    const health = await get('/healthz');
    expect(health.status).toBe(200);
    expect(health.body.index).toMatchObject({ ready: false });
    expect((await get('/readyz')).status).toBe(503);
    const slides = await get('/slides');
    expect([slides.status, slides.body.code]).toEqual([503, 'INDEX_MISSING']);
    // Bounded by count: a start-up ingest that never ends fails here rather than hanging the suite.
    let ready = 503;
    for (let i = 0; i < 1200 && ready !== 200; i++) {
      await new Promise((r) => setTimeout(r, 100));
      ready = (await get('/readyz')).status;
    }
    expect(ready).toBe(200);
    expect(stderr.join('')).toMatch(/ingest: published in [\d.]+ s/);
    const after = await get('/slides');
    expect(after.status).toBe(200);
    expect((after.body.items as Array<{ id: string }>).map((s) => s.id).sort()).toEqual([
      'normal_001',
      'tumor_083',
      'tumor_107',
    ]);
  }, 150_000);
});
