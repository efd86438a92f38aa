/**
 * The service's ingest runs in a worker thread: /healthz keeps answering while a slide is being
 * rasterised, the admin ingest still publishes, one ingest at a time per process (the start-up
 * one included), and failures come back with their code.
 */
import type { Server } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { createApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createIndexHandle } from '../../src/db/handle.js';
import { createGeneration } from '../../src/generation.js';
import { imagingCapabilities } from '../../src/imaging/sharp.js';
import { ingest } from '../../src/indexer/ingest.js';
import { ingestInWorker, workerBusy } from '../../src/indexer/worker.js';
import { serveIndex } from '../support/app-fixture.js';
import { buildDataset, manifestJson } from '../support/core-dataset.js';
import { appErrorOf, makeTempDir, removeTempDir } from '../support/core-fixtures.js';
import { slideRows } from '../support/core-index.js';

let root: string;
let data: string;
let index: string;
let server: Server;
let base: string;

beforeAll(async () => {
  root = makeTempDir('worker');
  data = join(root, 'data');
  index = join(root, 'index.sqlite');
  await buildDataset(data, { real: false });
  await ingest({ dataDir: data, indexPath: index });
  const { app } = await serveIndex(data, index);
  server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const addr = server.address();
  base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  removeTempDir(root);
});

describe('ingest in a worker thread', () => {
  it('/healthz answers many times while one slide is rasterised (the main thread stays free)', async () => {
    // Raster at 1 level-0 pixel per label pixel: tumor_083 alone is 7.2 million raster pixels.
    writeFileSync(join(data, 'manifest.json'), JSON.stringify(manifestJson(1)));
    let step = '';
    const answers = new Map<string, number>();
    let done = false;
    const job = ingestInWorker({ dataDir: data, indexPath: index }, (s) => (step = s)).finally(() => (done = true));
    while (!done) {
      const r = await fetch(`${base}/healthz`);
      expect(r.status).toBe(200);
      await r.arrayBuffer();
      answers.set(step, (answers.get(step) ?? 0) + 1);
    }
    const report = await job;
    expect(report.published).toBe(true);
    expect(report.indexed.sort()).toEqual(['normal_001', 'tumor_083', 'tumor_107']);
    expect(slideRows(index).get('tumor_083')).toMatchObject({ label_downsample: 1, label_width: 3000 });
    // On the main thread a slide's build yields only at its few file reads: a handful of answers.
    expect(answers.get('slide tumor_083') ?? 0).toBeGreaterThanOrEqual(20);
  });

  it('one ingest at a time: a second one is refused at once (INGEST_RUNNING) and the first completes', async () => {
    writeFileSync(join(data, 'manifest.json'), JSON.stringify(manifestJson(2)));
    const first = ingestInWorker({ dataDir: data, indexPath: index });
    expect(workerBusy()).toBe(true);
    const e = await appErrorOf(() => ingestInWorker({ dataDir: data, indexPath: index }));
    expect([e.status, e.code]).toEqual([409, 'INGEST_RUNNING']);
    // The admin route refuses too, and its own state is not left "running".
    const admin = await appWithWorker();
    const res = await request(admin).post('/admin/ingest');
    expect([res.status, res.body.code]).toEqual([409, 'INGEST_RUNNING']);
    expect((await request(admin).get('/admin/ingest')).body).toMatchObject({ state: 'idle' });
    expect((await first).published).toBe(true);
    expect(workerBusy()).toBe(false);
  });

  it('POST /admin/ingest runs in the worker and publishes; the report is served', async () => {
    writeFileSync(join(data, 'manifest.json'), JSON.stringify(manifestJson(4)));
    const admin = await appWithWorker();
    expect((await request(admin).post('/admin/ingest')).status).toBe(202);
    let body: { state: string; report: { published: boolean; indexed: string[] } | null } = {
      state: 'running',
      report: null,
    };
    // Bounded by count: an ingest that never ends fails here rather than hanging the suite.
    for (let i = 0; i < 600 && body.state === 'running'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      body = (await request(admin).get('/admin/ingest')).body as typeof body;
    }
    expect(body.state).toBe('done');
    expect(body.report).toMatchObject({ published: true });
    expect(body.report!.indexed.sort()).toEqual(['normal_001', 'tumor_083', 'tumor_107']);
    expect(slideRows(index).get('tumor_083')).toMatchObject({ label_downsample: 4 });
  });

  it('a failure comes back with its code, and the next job may start', async () => {
    const e = await appErrorOf(() => ingestInWorker({ dataDir: join(root, 'absent'), indexPath: index }));
    expect([e.status, e.code]).toEqual([422, 'DATA_DIR_MISSING']);
    expect(workerBusy()).toBe(false);
    expect((await ingestInWorker({ dataDir: data, indexPath: index })).published).toBe(false);
  });
});

/** The service's app over the test index, with the admin ingest the server gives it (the worker). */
async function appWithWorker() {
  const config = loadConfig({}, { dataDir: data, indexPath: index });
  const handle = createIndexHandle(index, (db) => createGeneration(db, data, config.labelCacheBytes));
  const ingestFn = () => ingestInWorker({ dataDir: data, indexPath: index });
  return createApp({
    config,
    index: handle,
    log: pino({ level: 'silent' }),
    imaging: await imagingCapabilities(),
    ingest: ingestFn,
  });
}
