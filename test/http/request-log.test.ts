/**
 * Request logs: a training job's thousands of successful requests are logged at debug; errors
 * and slow requests stay at info or above. The level table is pure; the HTTP part captures the
 * lines the app writes through a pino destination.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createIndexHandle } from '../../src/db/handle.js';
import { createGeneration } from '../../src/generation.js';
import { requestLogLevel, SLOW_REQUEST_MS } from '../../src/http/log-level.js';
import { imagingCapabilities } from '../../src/imaging/sharp.js';
import { ingest } from '../../src/indexer/ingest.js';
import { buildDataset } from '../support/core-dataset.js';

describe('requestLogLevel', () => {
  it.each([
    [200, false, 5, 'debug'],
    [304, false, 5, 'debug'],
    [200, false, SLOW_REQUEST_MS - 1, 'debug'],
    [200, false, SLOW_REQUEST_MS, 'info'],
    [206, false, 60_000, 'info'],
    [400, false, 1, 'info'],
    [404, false, 1, 'info'],
    [413, false, 1, 'info'],
    [500, false, 1, 'error'],
    [503, false, 1, 'error'],
    [200, true, 1, 'error'],
  ] as const)('status %i, failed %s, %i ms: %s', (status, failed, ms, level) => {
    expect(requestLogLevel(status, failed, ms)).toBe(level);
  });

  it('takes the threshold it is given', () => {
    expect(requestLogLevel(200, false, 50, 50)).toBe('info');
    expect(requestLogLevel(200, false, 49, 50)).toBe('debug');
  });
});

describe('the request log of the app', () => {
  let dir: string;
  const lines: Array<{ level: number; msg: string; res?: { statusCode: number }; req?: { url: string } }> = [];
  let app: ReturnType<typeof createApp>;
  let deps: Parameters<typeof createApp>[0];
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'request-log-'));
    const dataDir = join(dir, 'data');
    const indexPath = join(dir, 'index', 'index.sqlite');
    await buildDataset(dataDir, { real: false });
    await ingest({ dataDir, indexPath });
    const config = loadConfig({}, { dataDir, indexPath });
    const index = createIndexHandle(indexPath, (db) => createGeneration(db, dataDir, config.labelCacheBytes));
    // The service's default level: what a training session writes to its logs.
    const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    deps = { config, index, log, imaging: await imagingCapabilities() };
    app = createApp(deps);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const requestLines = () => lines.filter((l) => l.req !== undefined);

  it('writes no line at info for successful requests, one for each error', async () => {
    lines.length = 0;
    for (let k = 0; k < 5; k++) expect((await request(app).get('/classes')).status).toBe(200);
    expect(
      (
        await request(app)
          .post('/samples')
          .send({ classes: ['adipose'], count: 2 })
      ).status,
    ).toBeLessThan(500);
    expect(requestLines().filter((l) => l.res!.statusCode < 400)).toEqual([]);
    expect((await request(app).get('/slides/nope')).status).toBe(404);
    expect(
      (
        await request(app)
          .post('/samples')
          .send({ classes: ['adipose'], minfraction: 0.5 })
      ).status,
    ).toBe(400);
    const logged = requestLines();
    expect(logged.map((l) => [l.req!.url, l.res!.statusCode, l.level])).toEqual([
      ['/slides/nope', 404, 30],
      ['/samples', 400, 30],
    ]);
  });

  it('at debug, writes every request with its id, status and time, keys redacted', async () => {
    lines.length = 0;
    const debug: typeof lines = [];
    const log = pino({ level: 'debug' }, { write: (line: string) => void debug.push(JSON.parse(line)) });
    const dbg = createApp({ ...deps, log });
    const given = await request(dbg)
      .get('/classes?x=1')
      .set('X-Request-Id', 'job-7.patch_12')
      .set('Authorization', 'Bearer secret-key');
    expect(given.status).toBe(200);
    expect(given.headers['x-request-id']).toBe('job-7.patch_12');
    const made = await request(dbg).get('/classes').set('X-Request-Id', 'not an id!');
    expect(made.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const rows = debug.filter((l) => l.req !== undefined) as unknown as Array<{
      level: number;
      msg: string;
      responseTime: number;
      req: { id: string; url: string; headers: Record<string, string> };
      res: { statusCode: number; headers: Record<string, string> };
    }>;
    expect(rows.map((l) => [l.level, l.msg, l.req.url, l.req.id, l.res.statusCode])).toEqual([
      [20, 'request completed', '/classes?x=1', 'job-7.patch_12', 200],
      [20, 'request completed', '/classes', made.headers['x-request-id'], 200],
    ]);
    expect(rows[0]!.req.headers.authorization).toBe('[Redacted]');
    expect(rows[0]!.res.headers['x-request-id']).toBe('job-7.patch_12');
    expect(rows.every((l) => Number.isInteger(l.responseTime) && l.responseTime >= 0)).toBe(true);
    expect(lines).toEqual([]);
  });
});
