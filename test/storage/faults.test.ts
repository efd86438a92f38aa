/**
 * The service on S3 through a fault proxy of our own: how many GETs a cold tile and patch cost,
 * and what each store failure answers (latency, 500s, SlowDown, resets mid-body, truncated
 * bodies, an object replaced while open, the store down). Every fault gives its documented
 * answer, the service stays up, and the next request after the fault succeeds.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createIndexHandle } from '../../src/db/handle.js';
import { createGeneration } from '../../src/generation.js';
import { imagingCapabilities } from '../../src/imaging/sharp.js';
import { ingest } from '../../src/indexer/ingest.js';
import type { RemoteSettings } from '../../src/storage/open.js';
import { binary, serveDemo, type Served } from '../support/app-fixture.js';
import {
  S3_CREDENTIALS,
  remoteSettings,
  startFaultProxy,
  startS3,
  uploadDir,
  type FaultProxy,
  type S3Server,
} from '../support/remote-stores.js';

let local: Served;
let s3: S3Server;
let proxy: FaultProxy;
let dir: string;
let indexPath: string;
const DATA = 's3://slides/ds';
const logs: string[] = [];

async function serve(remote: RemoteSettings) {
  const config = loadConfig({}, { dataDir: DATA, indexPath, remote, tileCacheBytes: 0, requestTimeoutMs: 20_000 });
  const index = createIndexHandle(indexPath, (db) => createGeneration(db, DATA, config.labelCacheBytes));
  const sink = new Writable({ write: (c, _e, cb) => (logs.push(String(c)), cb()) });
  const app = createApp({
    config,
    index,
    log: pino({ level: 'debug' }, sink),
    imaging: await imagingCapabilities(),
    ingest: () => ingest({ dataDir: DATA, indexPath, remote }),
  });
  return app;
}

/** A region of tumor_001 at level 0, `n` tiles (512 px) from the origin: each case reads its own. */
const region = (n: number) =>
  `/slides/tumor_001/region?x=${(n % 6) * 512 + 128}&y=${Math.floor(n / 6) * 512 + 128}&width=256&height=256&level=0&format=png`;

beforeAll(async () => {
  local = await serveDemo();
  dir = mkdtempSync(join(tmpdir(), 'remote-faults-'));
  indexPath = join(dir, 'index.sqlite');
  s3 = await startS3();
  await uploadDir(s3, local.dataDir, 'ds/');
  proxy = await startFaultProxy(s3.endpoint);
  await ingest({
    dataDir: DATA,
    indexPath,
    remote: remoteSettings({ endpoint: proxy.url, credentials: S3_CREDENTIALS }),
  });
}, 240_000);

afterAll(async () => {
  await proxy?.close();
  await s3?.close();
  local?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('GETs per cold read (through the proxy, which counts them)', () => {
  it('a cold stored tile costs 1 ranged GET once the slide is open; a cold 256 px patch over 4 tiles costs 2', async () => {
    const app = await serve(remoteSettings({ endpoint: proxy.url, credentials: S3_CREDENTIALS }));
    expect((await request(app).get('/slides/tumor_001/image_files/12/0_0.jpeg')).status).toBe(200);
    proxy.reset();
    for (const [c, r] of [
      [3, 2],
      [5, 3],
      [6, 1],
    ]) {
      const res = await request(app).get(`/slides/tumor_001/image_files/12/${c}_${r}.jpeg`);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    }
    expect(proxy.counts).toEqual({ GET: 3, HEAD: 0, ranged: 3 });
    proxy.reset();
    // 256 px at (384 + 512k, 384): across the corner of 2 x 2 stored tiles.
    for (const k of [1, 3, 5]) {
      const url = `/slides/tumor_001/region?x=${k * 512 + 384}&y=${384 + 1024}&width=256&height=256&level=0&format=png`;
      const res = await request(app).get(url).buffer(true).parse(binary);
      const want = await request(local.app).get(url).buffer(true).parse(binary);
      expect((res.body as Buffer).equals(want.body as Buffer)).toBe(true);
    }
    expect(proxy.counts).toEqual({ GET: 6, HEAD: 0, ranged: 6 });
  });
});

describe('store faults', () => {
  let app: Awaited<ReturnType<typeof serve>>;
  beforeAll(async () => {
    // No range cache: every request goes to the store.
    app = await serve(
      remoteSettings({
        endpoint: proxy.url,
        credentials: S3_CREDENTIALS,
        cacheBytes: 0,
        timeoutMs: 400,
        retries: 3,
        budgetMs: 1_500,
      }),
    );
  });

  const same = async (url: string) => {
    const got = await request(app).get(url).buffer(true).parse(binary);
    const want = await request(local.app).get(url).buffer(true).parse(binary);
    expect(got.status, url).toBe(200);
    expect((got.body as Buffer).equals(want.body as Buffer), url).toBe(true);
  };
  const unavailable = async (url: string) => {
    const t0 = Date.now();
    const res = await request(app).get(url);
    expect(res.status).toBe(503);
    expect(res.headers['content-type']).toMatch(/problem\+json/);
    expect(res.headers['retry-after']).toBe('5');
    expect(res.body.code).toBe('STORE_UNAVAILABLE');
    expect(res.body.detail).toContain('slide "tumor_001"');
    // Within the store's budget (with back-off), far from the request's 20 s.
    expect(Date.now() - t0).toBeLessThan(6_000);
    return res.body as { detail: string };
  };

  it('added latency below the timeout: answered, the same bytes', async () => {
    proxy.reset();
    proxy.faults.latencyMs = 150;
    await same(region(1));
    proxy.reset();
  });

  it('500s, SlowDown, a reset mid-body and a truncated body are retried: answered, the same bytes', async () => {
    proxy.reset();
    proxy.faults.errors500 = 2;
    await same(region(2));
    proxy.faults.slowDown = 2;
    await same(region(3));
    proxy.faults.resets = 1;
    await same(region(4));
    proxy.faults.truncations = 1;
    await same(region(5));
    proxy.reset();
    const metrics = await request(app).get('/metrics');
    expect(metrics.text).toMatch(/store_retries_total\{op="range"\} [1-9]/);
    expect(metrics.text).toMatch(/store_requests_total\{op="range",outcome="ok"\} [1-9]/);
  });

  it('a store that keeps failing: 503 + Retry-After naming the slide; the next request after it succeeds', async () => {
    proxy.faults.errors500 = 1_000;
    await unavailable(region(6));
    proxy.reset();
    await same(region(6));
  });

  it('a store slower than the timeout on every try: 503 within the budget, not a hang', async () => {
    proxy.faults.latencyMs = 1_000;
    await unavailable(region(7));
    proxy.reset();
    await same(region(7));
  });

  it('the store down: 503; back up: answered', async () => {
    proxy.faults.down = true;
    await unavailable(region(8));
    proxy.reset();
    await same(region(8));
  });

  it('no credential or store URL in answers, logs or /metrics', async () => {
    proxy.faults.errors500 = 1_000;
    const body = await unavailable(region(9));
    proxy.reset();
    const metrics = (await request(app).get('/metrics')).text;
    for (const text of [JSON.stringify(body), metrics, logs.join('')]) {
      expect(text).not.toContain(S3_CREDENTIALS.secretAccessKey);
      expect(text).not.toContain(proxy.url);
      expect(text).not.toMatch(/Signature=|X-Amz-Security-Token/i);
    }
    // The failure was logged (as a 503), just without anything secret in it.
    expect(logs.join('')).toContain('"statusCode":503');
  });

  it('an object replaced while open: 503 until re-ingested; other slides unaffected; then the new bytes', async () => {
    await same(region(10));
    const key = 'ds/slides/tumor_001.tif';
    const original = readFileSync(join(local.dataDir, 'slides', 'tumor_001.tif'));
    await s3.put(key, Buffer.concat([original, Buffer.alloc(4096)]));
    for (let i = 0; i < 2; i++) {
      const res = await request(app).get(region(11));
      expect([res.status, res.body.code]).toEqual([503, 'SLIDE_UNAVAILABLE']);
    }
    expect((await request(app).get('/slides/tumor_002/region?x=0&y=0&width=64&height=64&level=0')).status).toBe(200);
    const report = await ingest({
      dataDir: DATA,
      indexPath,
      remote: remoteSettings({ endpoint: proxy.url, credentials: S3_CREDENTIALS }),
    });
    expect(report.indexed).toEqual(['tumor_001']);
    const after = await serve(remoteSettings({ endpoint: proxy.url, credentials: S3_CREDENTIALS }));
    const res = await request(after).get(region(11)).buffer(true).parse(binary);
    expect(res.status).toBe(200);
    await s3.put(key, original);
  });

  it('an ingest while the store fails publishes nothing and records no problem; the next one succeeds', async () => {
    const before = readFileSync(indexPath);
    const remote = remoteSettings({ endpoint: proxy.url, credentials: S3_CREDENTIALS, retries: 1, budgetMs: 500 });
    // A changed object, so the ingest has a slide to read; its ranged GETs fail.
    const key = 'ds/slides/tumor_002.tif';
    const original = readFileSync(join(local.dataDir, 'slides', 'tumor_002.tif'));
    await s3.put(key, Buffer.concat([original, Buffer.alloc(512)]));
    proxy.faults.onlyRanges = true;
    proxy.faults.errors500 = 1_000;
    const err = await ingest({ dataDir: DATA, indexPath, remote }).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 503, code: 'STORE_UNAVAILABLE' });
    expect(readFileSync(indexPath).equals(before)).toBe(true);
    proxy.reset();
    const report = await ingest({ dataDir: DATA, indexPath, remote });
    // tumor_001 too when the test above put its original back (a new object for the store).
    expect(report.published).toBe(true);
    expect(report.indexed).toContain('tumor_002');
    expect(report.problems).toEqual(local.report.problems);
    await s3.put(key, original);
  });
});
