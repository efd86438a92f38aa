/**
 * Two apps over the same index, one with the hot paths (src/fastpath/) and one without, for tests
 * that ask both the same requests and compare what they answer, count and log. A spy on express's
 * router says which requests the hot path answered itself, so an equal answer cannot come from both
 * apps taking the chain.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import request from 'supertest';
import type { Response } from 'superagent';
import { expect, vi } from 'vitest';
import { createApp } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import { createIndexHandle } from '../../src/db/handle.js';
import { createGeneration } from '../../src/generation.js';
import { imagingCapabilities } from '../../src/imaging/sharp.js';
import { binary, type Served } from '../support/app-fixture.js';

export interface Pair {
  fast: ReturnType<typeof createApp>;
  chain: ReturnType<typeof createApp>;
  /** Requests that reached express's router in the fast app (the hot path passed them on, or handed over an error). */
  routed(): number;
  logs: { fast: object[]; chain: object[] };
}

export async function pair(served: Served, overrides: Partial<Config> = {}): Promise<Pair> {
  const imaging = await imagingCapabilities();
  const logs = { fast: [] as object[], chain: [] as object[] };
  const make = (fastPaths: boolean, lines: object[]) => {
    const config = loadConfig(
      {},
      { dataDir: served.dataDir, indexPath: served.indexPath, maxRegionPixels: 2048 * 2048, ...overrides },
    );
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(JSON.parse(chunk.toString()) as object);
        cb();
      },
    });
    const index = createIndexHandle(served.indexPath, (db) =>
      createGeneration(db, served.dataDir, config.labelCacheBytes),
    );
    return createApp({ config, index, log: pino({ level: 'debug' }, sink), imaging, fastPaths });
  };
  const fast = make(true, logs.fast);
  const chain = make(false, logs.chain);
  const spy = vi.spyOn((fast as unknown as { router: { handle: () => void } }).router, 'handle');
  return { fast, chain, routed: () => spy.mock.calls.length, logs };
}

/** Headers whose values must be equal (X-Request-Id is new each time, Date and keep-alive are node's). */
const COMPARED = [
  'content-type',
  'content-length',
  'etag',
  'cache-control',
  'x-content-type-options',
  'access-control-allow-origin',
  'access-control-expose-headers',
  'vary',
  'x-array-shape',
  'x-array-dtype',
  'www-authenticate',
  'retry-after',
  'access-control-allow-methods',
  'access-control-allow-headers',
  'access-control-max-age',
];

function shape(res: Response) {
  return {
    status: res.status,
    headers: Object.fromEntries(COMPARED.map((h) => [h, res.headers[h] as string | undefined])),
    requestId: typeof res.headers['x-request-id'],
    body: res.body as Buffer,
  };
}

export type Ask = (t: request.Test) => request.Test;

export async function both(p: Pair, method: 'get' | 'head' | 'options', url: string, ask: Ask = (t) => t) {
  const go = (app: Pair['fast']) => ask(request(app)[method](url)).buffer(true).parse(binary);
  const fast = shape(await go(p.fast));
  const chain = shape(await go(p.chain));
  expect(fast).toEqual(chain);
  return fast;
}

/** Request and byte counters of a scrape, without the scrapes' own series. */
export async function counts(app: Pair['fast']): Promise<string[]> {
  return (await request(app).get('/metrics')).text
    .split('\n')
    .filter((l) => /^http_(requests_total|response_bytes_total)\{/.test(l) && !l.includes('route="/metrics"'))
    .sort();
}

/** Log lines without what differs by nature (time, ids, ports, the scrapes' own lines). */
export function comparableLogs(lines: object[]): object[] {
  return lines
    .filter((l) => (l as { req: { url: string } }).req.url !== '/metrics')
    .map((l) => {
      const { time, responseTime, pid, hostname, req, res, ...rest } = l as Record<string, unknown>;
      void [time, responseTime, pid, hostname];
      const { id, remotePort, headers, ...reqRest } = req as Record<string, unknown>;
      void [id, remotePort, headers];
      const resHeaders = { ...((res as { headers: Record<string, unknown> }).headers ?? {}) };
      delete resHeaders['x-request-id'];
      return { ...rest, req: reqRest, res: { ...(res as object), headers: resHeaders } };
    });
}
