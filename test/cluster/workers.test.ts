/**
 * The real service with WORKERS=2 through one life: two workers share the port and their request
 * counts add up in /metrics; a worker SIGKILLed under load is restarted while the other keeps
 * answering (counted, nothing half-served or half-written); an admin ingest runs once, in the
 * primary, and both workers switch to the new index; SIGTERM while a batch streams lets it finish
 * whole and the service exits 0. One service for all four: each step leaves it as the next needs it.
 */
import { readdirSync, statSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  freePort,
  isRunning,
  signalProcess,
  sleep,
  startProcess,
  stopProcess,
  waitForHttp,
  type Started,
} from '../../dev/procs.js';
import { ingest } from '../../src/indexer/ingest.js';
import { buildDataset } from '../support/core-dataset.js';
import { makeTempDir, removeTempDir, writeSlide } from '../support/core-fixtures.js';
import { untar } from '../support/tar.js';

let dir: string;
let child: Started | null = null;
let port = 0;

beforeAll(async () => {
  dir = makeTempDir('cluster');
  await buildDataset(join(dir, 'data'), { real: false });
  await ingest({ dataDir: join(dir, 'data'), indexPath: join(dir, 'var/index.sqlite') });
  port = await freePort();
  child = startProcess('service', process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    env: {
      ...process.env,
      WORKERS: '2',
      PORT: String(port),
      HOST: '127.0.0.1',
      DATA_DIR: join(dir, 'data'),
      INDEX_PATH: join(dir, 'var/index.sqlite'),
      INGEST_ON_START: 'false',
      LOG_LEVEL: 'info',
      READINESS_GRACE_MS: '1000',
      DRAIN_MS: '20000',
    },
  });
  await waitForHttp(`http://127.0.0.1:${port}/readyz`, 60_000, { proc: child });
  await until('both workers up', async () => (await health()).workers.up === 2, 30_000);
}, 120_000);

afterAll(async () => {
  if (child) await stopProcess(child);
  removeTempDir(dir);
});

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** One request on its own connection (no keep-alive), so the primary hands each to the next worker. */
function call(method: string, path: string, body?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { connection: 'close' };
    if (body !== undefined)
      Object.assign(headers, { 'content-type': 'application/json', 'content-length': body.length });
    const req = httpRequest(
      { host: '127.0.0.1', port, path, method, headers, agent: false, timeout: 15_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

type Health = {
  index: { slides: number; datasetVersion: string | null };
  workers: { configured: number; up: number; restarts: number; pid: number };
};

async function health(): Promise<Health> {
  const r = await call('GET', '/healthz');
  expect(r.status).toBe(200);
  return JSON.parse(r.body.toString()) as Health;
}

async function until(what: string, check: () => Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check().catch(() => false))) {
    if (Date.now() > end) throw new Error(`no ${what} within ${ms} ms; service output:\n${child?.tail()}`);
    await sleep(100);
  }
}

/** The worker PIDs that answer /healthz now (the primary alternates connections between them). */
async function workerPids(): Promise<Map<number, Health>> {
  const seen = new Map<number, Health>();
  for (let i = 0; i < 40 && seen.size < 2; i++) {
    const h = await health();
    seen.set(h.workers.pid, h);
  }
  return seen;
}

/** A sample's value in the Prometheus text (0 when absent); `labels` as written, e.g. `route="/healthz"`. */
async function metric(name: string, labels: string[] = []): Promise<number> {
  const text = (await call('GET', '/metrics')).body.toString();
  const line = text
    .split('\n')
    .find((l) => (l.startsWith(`${name}{`) || l.startsWith(`${name} `) ? labels.every((x) => l.includes(x)) : false));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

describe('WORKERS=2', () => {
  it('two workers answer, and their request counts add up in /metrics', async () => {
    const pids = await workerPids();
    expect(pids.size).toBe(2);
    expect(pids.has(child!.pid)).toBe(false);
    for (const h of pids.values()) expect(h.workers).toMatchObject({ configured: 2, up: 2, restarts: 0 });
    const labels = ['method="GET"', 'route="/healthz"', 'status="200"'];
    const before = await metric('http_requests_total', labels);
    const answeredBy = new Set<number>();
    const N = 24;
    for (let i = 0; i < N; i++) answeredBy.add((await health()).workers.pid);
    expect(answeredBy).toEqual(new Set(pids.keys()));
    // A worker counts a request when its response is finished: poll briefly, then it must be exactly N.
    await until('the aggregated count', async () => (await metric('http_requests_total', labels)) - before >= N, 5000);
    expect((await metric('http_requests_total', labels)) - before).toBe(N);
    expect(await metric('workers_up')).toBe(2);
    expect(await metric('workers_configured')).toBe(2);
    expect(await metric('index_ready', ['dataset_version='])).toBe(1);
  }, 30_000);

  it('a worker SIGKILLed under load: the other keeps answering, it is restarted and counted, nothing half-written', async () => {
    const filesBefore = readdirSync(join(dir, 'var')).sort();
    const indexBefore = statSync(join(dir, 'var/index.sqlite'));
    const [victim] = [...(await workerPids()).keys()];
    const load = startLoad(2);
    await until('some load served', async () => load.ok() >= 15, 30_000);
    const killedAt = Date.now();
    process.kill(victim!, 'SIGKILL');
    // The other worker keeps answering: every request started a second after the kill is served.
    await until('load served by the other worker', async () => load.okSince(killedAt + 1000) >= 10, 30_000);
    const results = await load.stop();
    // Requests the dead worker held fail as broken connections; none is an error status or a short body.
    for (const r of results) if (r.status !== -1) expect(r.status, r.error).toBe(200);
    for (const r of results) if (r.status === 200) expect(r.whole).toBe(true);
    const late = results.filter((r) => r.startedAt > killedAt + 1000);
    expect(late.length).toBeGreaterThanOrEqual(10);
    expect(late.filter((r) => r.status !== 200)).toEqual([]);
    // A worker starts in about a second here; much longer on a machine as loaded as CI's can be.
    await until(
      'a restarted worker',
      async () => {
        const pids = await workerPids();
        return pids.size === 2 && !pids.has(victim!) && [...pids.values()].every((h) => h.workers.up === 2);
      },
      60_000,
    );
    expect(isRunning(victim!)).toBe(false);
    expect((await health()).workers.restarts).toBe(1);
    expect(await metric('worker_restarts_total')).toBe(1);
    expect(await metric('workers_up')).toBe(2);
    expect(readdirSync(join(dir, 'var')).sort()).toEqual(filesBefore);
    expect(statSync(join(dir, 'var/index.sqlite')).mtimeMs).toBe(indexBefore.mtimeMs);
  }, 120_000);
});

describe('WORKERS=2, then', () => {
  it('an admin ingest runs once, in the primary, and both workers switch to the new index', async () => {
    const before = await workerPids();
    const oldVersion = [...before.values()][0]!.index.datasetVersion;
    for (const h of before.values()) expect(h.index).toMatchObject({ slides: 3, datasetVersion: oldVersion });
    await writeSlide(join(dir, 'data/slides/normal_002.tif'), { width: 1200, height: 1000, mpp: 0.243, seed: 2 });
    const started = await call('POST', '/admin/ingest');
    expect(started.status, started.body.toString()).toBe(202);
    let status: { state: string; startedAt: string; report: { published: boolean; datasetVersion: string } | null };
    await until(
      'the ingest done',
      async () => {
        status = JSON.parse((await call('GET', '/admin/ingest')).body.toString()) as typeof status;
        return status.state === 'done';
      },
      30_000,
    );
    // Any worker answers the same state: the primary holds it.
    for (let i = 0; i < 4; i++)
      expect(JSON.parse((await call('GET', '/admin/ingest')).body.toString())).toMatchObject({
        state: 'done',
        startedAt: status!.startedAt,
      });
    expect(status!.report).toMatchObject({ published: true });
    expect(status!.report!.datasetVersion).not.toBe(oldVersion);
    expect(await metric('ingest_runs_total', ['result="done"'])).toBe(1);
    expect(await metric('ingest_runs_total', ['result="failed"'])).toBe(0);
    await until(
      'every worker on the new index',
      async () => {
        const now = await workerPids();
        return (
          now.size === 2 &&
          [...now.values()].every(
            (h) => h.index.slides === 4 && h.index.datasetVersion === status.report!.datasetVersion,
          )
        );
      },
      10_000,
    );
  }, 60_000);

  it('SIGTERM while a batch streams: readiness off, the batch completes whole, every process exits, code 0', async () => {
    const pids = [...(await workerPids()).keys()];
    const { streaming, done, chunks } = startBatch();
    await streaming;
    const exited = child!.done.then((e) => e.code);
    signalProcess(child!, 'SIGTERM');
    await sleep(300);
    // Both workers drain: whichever takes the connection says not ready, while still answering.
    for (let i = 0; i < 2; i++) expect((await call('GET', '/readyz')).status).toBe(503);
    expect(await done).toBe(200);
    const names = [...(await untar(Buffer.concat(chunks))).keys()];
    expect(names).toHaveLength(120);
    expect(await exited).toBe(0);
    for (const pid of pids) expect(isRunning(pid)).toBe(false);
  }, 60_000);
});

/** A 40-patch batch (120 tar entries) streaming in; `streaming` settles at its first bytes. */
function startBatch() {
  const body = JSON.stringify({ classes: ['adipose', 'metastasis'], count: 40, size: 256, seed: 3, format: 'png' });
  const chunks: Buffer[] = [];
  let firstByte!: () => void;
  const streaming = new Promise<void>((resolve) => (firstByte = resolve));
  const done = new Promise<number>((resolve, reject) => {
    const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
    const req = httpRequest({ host: '127.0.0.1', port, path: '/batches', method: 'POST', headers }, (res) => {
      res.on('data', (c: Buffer) => (chunks.push(c), firstByte()));
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
  return { streaming, done, chunks };
}

interface LoadResult {
  startedAt: number;
  status: number;
  whole: boolean;
  error?: string;
}

/** `loops` clients asking for 256 px patches one after another, each on a new connection, until stopped. */
function startLoad(loops: number) {
  const results: LoadResult[] = [];
  let stopped = false;
  let n = 0;
  const loop = async () => {
    for (let k = 0; k < 2000 && !stopped; k++) {
      const i = n++;
      const startedAt = Date.now();
      const path = `/slides/tumor_083/region?x=${(i * 37) % 2700}&y=${(i * 53) % 2100}&width=256&height=256&level=0`;
      try {
        const r = await call('GET', path);
        const len = Number(r.headers['content-length']);
        // Whole: as long as announced, a JPEG from its start marker to its end marker.
        const whole = r.body.length === len && r.body[0] === 0xff && r.body[1] === 0xd8 && r.body.at(-1) === 0xd9;
        results.push({ startedAt, status: r.status, whole });
      } catch (e) {
        results.push({ startedAt, status: -1, whole: false, error: (e as Error).message });
        await sleep(20);
      }
    }
  };
  const running = Promise.all(Array.from({ length: loops }, loop));
  return {
    ok: () => results.filter((r) => r.status === 200).length,
    okSince: (t: number) => results.filter((r) => r.status === 200 && r.startedAt >= t).length,
    stop: async () => {
      stopped = true;
      await running;
      return results;
    },
  };
}
