import { copyFileSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import express from 'express';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashKey } from '../../src/auth/keys.js';
import { AppError } from '../../src/errors.js';
import { createLimiter, timeBudget } from '../../src/http/limits.js';
import { notFound, problemHandler } from '../../src/http/problem.js';
import { ingest } from '../../src/indexer/ingest.js';
import { pino } from 'pino';
import { serveCore, serveIndex, type Served } from '../support/app-fixture.js';

let s: Served;
beforeAll(async () => {
  s = await serveCore();
});
afterAll(() => s.cleanup());

describe('API keys', () => {
  const key = 'training-job-key';
  const admin = 'admin-key';
  const revoked = 'old-key';
  let app: Awaited<ReturnType<typeof serveIndex>>['app'];
  beforeAll(async () => {
    ({ app } = await serveIndex(s.dataDir, s.indexPath, {
      apiKeys: [hashKey(key), hashKey(revoked)],
      adminApiKeys: [hashKey(admin)],
      revokedApiKeys: [hashKey(revoked)],
    }));
  });

  it('data endpoints need a valid key; missing and wrong keys get the same 401, revoked keys 403', async () => {
    const missing = await request(app).get('/slides/tumor_083');
    expect(missing.status).toBe(401);
    expect(missing.headers['www-authenticate']).toContain('Bearer');
    const wrong = await request(app).get('/slides/tumor_083').set('Authorization', 'Bearer nope');
    expect(wrong.status).toBe(401);
    expect(wrong.body.detail).toBe(
      missing.body.detail.replace(
        'this endpoint needs an API key: Authorization: Bearer <key>',
        'the API key is not valid',
      ),
    );
    expect((await request(app).get('/slides/tumor_083').set('Authorization', `Bearer ${revoked}`)).status).toBe(403);
    expect((await request(app).get('/slides/tumor_083').set('Authorization', `Bearer ${key}`)).status).toBe(200);
    const tile = await request(app)
      .get('/slides/tumor_083/mask_files/11/0_0.png')
      .set('Authorization', `Bearer ${key}`);
    expect(tile.status).toBe(200);
    // Shared caches must not serve keyed answers to others.
    expect(tile.headers['cache-control']).toMatch(/^private,/);
    expect(
      (
        await request(app)
          .post('/samples')
          .send({ classes: ['adipose'] })
      ).status,
    ).toBe(401);
  });

  it('nothing about the data leaks without a key', async () => {
    for (const url of ['/slides', '/classes', '/dataset', '/slides/tumor_083/thumbnail.jpeg', '/slides/nope']) {
      const res = await request(app).get(url);
      expect(res.status).toBe(401);
      const text = JSON.stringify(res.body);
      for (const secret of ['tumor_107', 'metastasis', s.dataDir, 'Tumor_083.tif']) expect(text).not.toContain(secret);
    }
  });

  it('health, readiness, metrics and the contract stay open', async () => {
    for (const url of ['/healthz', '/readyz', '/metrics', '/openapi.yaml', '/docs'])
      expect([url, (await request(app).get(url)).status]).toEqual([url, 200]);
  });

  it('the admin re-ingest needs an admin key and runs', async () => {
    expect((await request(app).post('/admin/ingest').set('Authorization', `Bearer ${key}`)).status).toBe(403);
    const started = await request(app).post('/admin/ingest').set('Authorization', `Bearer ${admin}`);
    expect(started.status).toBe(202);
    expect(started.body.state).toBe('running');
    let state = started.body;
    for (let i = 0; i < 100 && state.state === 'running'; i++) {
      await new Promise((r) => setTimeout(r, 50));
      state = (await request(app).get('/admin/ingest').set('Authorization', `Bearer ${admin}`)).body;
    }
    expect(state.state).toBe('done');
    expect(state.report.published).toBe(false); // nothing changed on disk
  });
});

describe('limits', () => {
  it('refuses renders beyond the concurrency and queue bounds with 503 and Retry-After', async () => {
    const { app } = await serveIndex(s.dataDir, s.indexPath, { maxConcurrentRenders: 1, maxQueuedRenders: 0 });
    const urls = Array.from(
      { length: 8 },
      (_, i) => `/slides/tumor_083/region?x=${i * 100}&y=0&width=1024&height=1024&mpp=0.5&format=png`,
    );
    const answers = await Promise.all(urls.map((u) => request(app).get(u)));
    const statuses = answers.map((a) => a.status);
    expect(statuses).toContain(200);
    expect(statuses).toContain(503);
    const busy = answers.find((a) => a.status === 503)!;
    expect(busy.headers['retry-after']).toBe('1');
    expect(busy.body.code).toBe('BUSY');
    const metrics = (await request(app).get('/metrics')).text;
    expect(metrics).toMatch(/renders_rejected_total [1-9]/);
  });

  it('a limiter runs at most N at once and queues at most M', async () => {
    const l = createLimiter(2, 1);
    let running = 0;
    let peak = 0;
    const job = () =>
      l.run(async () => {
        peak = Math.max(peak, ++running);
        await new Promise((r) => setTimeout(r, 20));
        running--;
        return 1;
      });
    const results = await Promise.allSettled([job(), job(), job(), job(), job()]);
    expect(peak).toBe(2);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
    expect(
      results.filter((r) => r.status === 'rejected').map((r) => ((r as PromiseRejectedResult).reason as AppError).code),
    ).toEqual(['BUSY', 'BUSY']);
  });

  it('a request over its time budget gets a 503 problem, and the late result is dropped', async () => {
    const app = express();
    app.use(timeBudget(50));
    app.get('/slow', async (_req, res) => {
      await new Promise((r) => setTimeout(r, 150));
      if (!res.headersSent) res.send('late');
    });
    app.use(notFound);
    app.use(problemHandler(pino({ level: 'silent' })));
    const res = await request(app).get('/slow');
    expect(res.status).toBe(503);
    expect(res.body.code).toBe('TIMEOUT');
  });

  it('caps the samples a batch may stream', async () => {
    const { app } = await serveIndex(s.dataDir, s.indexPath, { maxBatchSamples: 5 });
    const res = await request(app)
      .post('/batches')
      .send({ classes: ['adipose'], count: 6, size: 32 });
    expect(res.status).toBe(413);
    expect(res.body.code).toBe('BATCH_TOO_LARGE');
  });
});

describe('readiness and metrics', () => {
  it('/readyz turns false while draining', async () => {
    const served = await serveIndex(s.dataDir, s.indexPath);
    expect((await request(served.app).get('/readyz')).status).toBe(200);
    served.app.services.lifecycle.draining = true;
    const r = await request(served.app).get('/readyz');
    expect(r.status).toBe(503);
    expect(r.body).toEqual({ ready: false, draining: true, index: true });
    expect((await request(served.app).get('/healthz')).status).toBe(200);
  });

  it('/metrics counts requests per route template, not per URL', async () => {
    await request(s.app).get('/slides/tumor_083/mask_files/11/0_0.png');
    await request(s.app).get('/slides/tumor_083/mask_files/11/0_1.png');
    const text = (await request(s.app).get('/metrics')).text;
    expect(text).toContain(
      'http_requests_total{method="GET",route="/slides/:slideId/mask_files/:level/:tile",status="200"}',
    );
    expect(text).not.toContain('0_1.png');
    expect(text).toMatch(/index_slides 8/);
    expect(text).toContain('http_request_duration_seconds_bucket');
    expect(text).toMatch(/cache_lookups_total\{cache="rendered_tiles",result="(hit|miss)"\} [1-9]/);
    expect(text).toContain('renders_in_flight');
  });
});

describe('faults after indexing', () => {
  it('a slide whose file disappears answers 503 alone, and serves again once it is back', async () => {
    const { app } = await serveIndex(s.dataDir, s.indexPath);
    const file = join(s.dataDir, 'slides', 'tumor_107.tif');
    renameSync(file, `${file}.away`);
    try {
      const gone = await request(app).get('/slides/tumor_107/image_files/11/0_0.jpeg?tileSize=256');
      expect(gone.status).toBe(503);
      expect(gone.body.code).toBe('SLIDE_UNAVAILABLE');
      expect(JSON.stringify(gone.body)).not.toContain(s.dataDir);
      expect((await request(app).get('/slides/tumor_083/image_files/11/0_0.jpeg?tileSize=256')).status).toBe(200);
    } finally {
      renameSync(`${file}.away`, file);
    }
    expect((await request(app).get('/slides/tumor_107/image_files/11/0_0.jpeg?tileSize=256')).status).toBe(200);
  });

  it('a truncated slide answers 503 for the tiles it lost, and re-ingest reports it', async () => {
    const copy = join(s.dir, 'trunc');
    const { cpSync } = await import('node:fs');
    cpSync(s.dataDir, copy, { recursive: true });
    const idx = join(s.dir, 'trunc.sqlite');
    await ingest({ dataDir: copy, indexPath: idx });
    const { app } = await serveIndex(copy, idx);
    const file = join(copy, 'slides', 'Tumor_083.tif');
    const bytes = readFileSync(file);
    writeFileSync(file, bytes.subarray(0, Math.floor(bytes.length / 3)));
    const res = await request(app).get(
      '/slides/tumor_083/region?x=2400&y=1800&width=256&height=256&level=0&format=png',
    );
    expect(res.status).toBe(503);
    expect((await request(app).get('/slides/tumor_107/region?x=0&y=0&width=64&height=64&level=0')).status).toBe(200);
    const report = await ingest({ dataDir: copy, indexPath: idx });
    expect(report.problems.find((p) => p.slideId === 'tumor_083')).toBeDefined();
    // Replaced by a good file and re-ingested: the service picks up the new index and serves it again.
    copyFileSync(join(s.dataDir, 'slides', 'Tumor_083.tif'), file);
    const again = await ingest({ dataDir: copy, indexPath: idx });
    expect(again.indexed).toEqual(['tumor_083']);
    expect(again.problems.find((p) => p.slideId === 'tumor_083')).toBeUndefined();
    await new Promise((r) => setTimeout(r, 1100)); // the index handle looks for a new file at most once a second
    expect(
      (await request(app).get('/slides/tumor_083/region?x=2400&y=1800&width=256&height=256&level=0&format=png')).status,
    ).toBe(200);
  });
});

describe('the viewer with API keys', () => {
  it('signs in with a form and then reaches pages and tiles with the HttpOnly cookie', async () => {
    const { app } = await serveIndex(s.dataDir, s.indexPath, { apiKeys: [hashKey('viewer-key')] });
    expect((await request(app).get('/')).status).toBe(401);
    expect((await request(app).get('/login')).status).toBe(200);
    expect((await request(app).post('/login').type('form').send({ key: 'wrong' })).status).toBe(401);
    const ok = await request(app).post('/login').type('form').send({ key: 'viewer-key' });
    expect(ok.status).toBe(303);
    const cookie = ok.headers['set-cookie']![0]!;
    expect(cookie).toMatch(/^slides_key=viewer-key; HttpOnly; SameSite=Strict; Path=\//);
    const jar = cookie.split(';')[0]!;
    expect((await request(app).get('/').set('Cookie', jar)).status).toBe(200);
    expect((await request(app).get('/slides/tumor_083/mask_files/11/0_0.png').set('Cookie', jar)).status).toBe(200);
  });
});

describe('malformed URLs', () => {
  it('a malformed percent-encoding in a path is a 400 INVALID_PATH problem', async () => {
    const res = await request(s.app).get('/slides/%ff');
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('INVALID_PATH');
  });
});
