/**
 * Scale-out for real, on loopback: two replicas of the service over one data directory and one
 * index, behind nginx configured from docker/nginx.conf by scripts/scale-out.ts. Shows that the
 * proxy changes no byte, caches by URL (X-Cache-Status: HIT), answers conditional requests with
 * 304, and loses no request when a replica is SIGKILLed in the middle of a run.
 *
 * The replicas run the TypeScript sources through tsx (`node --import tsx src/server.ts`): no
 * build step, so a stale dist/ cannot make this test pass or fail.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signalProcess } from '../../dev/procs.js';
import { NGINX_BIN, startScaleOut, type ScaleOut } from '../../scripts/scale-out.js';
import { ingest } from '../../src/indexer/ingest.js';
import { buildDataset } from '../support/core-dataset.js';

const HAS_NGINX = existsSync(NGINX_BIN);
if (!HAS_NGINX)
  process.stderr.write(
    `scale-out.test: skipped: ${NGINX_BIN} is not installed (Debian package nginx; .ci/run must install it)\n`,
  );

const SLIDE = '/slides/tumor_083';
const CASES = {
  tile: `${SLIDE}/image_files/12/1_1.jpeg`,
  'mask tile (raw)': `${SLIDE}/mask_files/12/1_1.png?style=raw`,
  'mask tile (colour)': `${SLIDE}/mask_files/11/0_0.png?style=color&opacity=0.6`,
  'patch (pixels)': `${SLIDE}/region?x=600&y=500&width=256&height=256&level=0&format=png`,
  'patch (labels)': `${SLIDE}/region?x=600&y=500&width=256&height=256&level=0&layer=mask&format=png`,
};

interface Got {
  status: number;
  headers: Headers;
  body: Buffer;
}

async function get(url: string, headers: Record<string, string> = {}): Promise<Got> {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(15_000) });
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

const TITLE = HAS_NGINX
  ? 'two replicas behind nginx, loopback only'
  : `two replicas behind nginx: SKIPPED, ${NGINX_BIN} is not installed (.ci/run must install the Debian package nginx)`;

describe.skipIf(!HAS_NGINX)(TITLE, () => {
  let dir: string;
  let run: ScaleOut;
  const output: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'scale-out-data-'));
    const dataDir = join(dir, 'data');
    const indexPath = join(dir, 'index', 'index.sqlite');
    await buildDataset(dataDir, { real: false });
    await ingest({ dataDir, indexPath });
    run = await startScaleOut({
      dataDir,
      indexPath,
      replicas: 2,
      entry: 'src',
      onOutput: (s, l) => output.push(`${s}: ${l}`),
    });
  });

  afterAll(async () => {
    await run?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('listens on 127.0.0.1 only, with one process per replica and one nginx, all recorded by PID', () => {
    expect(run.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(run.replicas).toHaveLength(2);
    for (const r of run.replicas) expect(r.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const pids = JSON.parse(readFileSync(join(run.dir, 'pids.json'), 'utf8')) as { nginx: number; replicas: number[] };
    expect(pids).toEqual({ nginx: run.nginx.pid, replicas: run.replicas.map((r) => r.pid) });
    const conf = readFileSync(join(run.dir, 'nginx.conf'), 'utf8');
    expect(conf).toMatch(/listen 127\.0\.0\.1:\d+;/);
    expect(conf).toContain('daemon off;');
  });

  it.each(Object.entries(CASES))(
    '%s: byte-identical through the proxy and direct, then a cache HIT and a 304',
    async (_name, path) => {
      const direct = await get(`${run.replicas[1]!.url}${path}`);
      expect(direct.status).toBe(200);
      const etag = direct.headers.get('etag');
      expect(etag).toMatch(/^"[^"]+"$/); // strong
      expect(direct.headers.get('cache-control')).toMatch(/^public, max-age=86400\b/);

      const first = await get(`${run.url}${path}`);
      expect(first.status).toBe(200);
      expect(first.headers.get('x-cache-status')).toBe('MISS');
      expect(first.body.equals(direct.body)).toBe(true);
      expect(first.headers.get('etag')).toBe(etag);
      expect(first.headers.get('content-type')).toBe(direct.headers.get('content-type'));

      const again = await get(`${run.url}${path}`);
      expect(again.headers.get('x-cache-status')).toBe('HIT');
      expect(again.body.equals(direct.body)).toBe(true);
      expect(again.headers.get('etag')).toBe(etag);

      const viaProxy = await get(`${run.url}${path}`, { 'If-None-Match': etag! });
      expect(viaProxy.status).toBe(304);
      expect(viaProxy.body.length).toBe(0);
      const viaReplica = await get(`${run.replicas[0]!.url}${path}`, { 'If-None-Match': etag! });
      expect(viaReplica.status).toBe(304);
    },
  );

  it('never caches what the service marks no-store (health, readiness)', async () => {
    for (const path of ['/healthz', '/readyz']) {
      for (let i = 0; i < 2; i++) {
        const r = await get(`${run.url}${path}`);
        expect(r.status).toBe(200);
        expect(r.headers.get('x-cache-status')).toBe('MISS');
      }
    }
  });

  it('loses no request when replica 1 is SIGKILLed midway through 200 distinct requests', async () => {
    // Distinct URLs, none cached yet: every one is a real trip to a replica.
    const paths = Array.from({ length: 200 }, (_, i) => {
      const x = (i % 20) * 128 + 37;
      const y = Math.floor(i / 20) * 128 + 11;
      const layer = i % 3 === 0 ? '&layer=mask' : '';
      return `${SLIDE}/region?x=${x}&y=${y}&width=64&height=64&level=0&format=png${layer}`;
    });
    const [victim, survivor] = run.replicas as [ScaleOut['replicas'][0], ScaleOut['replicas'][0]];
    const exited = victim.proc.done.then((e) => e.signal);
    const statuses: number[] = new Array(paths.length).fill(0);
    const cache: string[] = new Array(paths.length).fill('');
    let next = 0;
    let done = 0;
    let killedAt = -1;
    const started = Date.now();
    // Four clients at once, so requests are in flight on both replicas when one dies.
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < paths.length) {
          const i = next++;
          try {
            const r = await get(`${run.url}${paths[i]}`);
            statuses[i] = r.status;
            cache[i] = r.headers.get('x-cache-status') ?? '';
          } catch {
            statuses[i] = -1;
          }
          if (++done === 100) {
            killedAt = done;
            signalProcess(victim.proc, 'SIGKILL');
          }
        }
      }),
    );
    expect(await exited).toBe('SIGKILL');
    expect(killedAt).toBe(100);
    expect(Date.now() - started).toBeLessThan(45_000);
    const failed = statuses.map((s, i) => [s, paths[i]] as const).filter(([s]) => s !== 200);
    expect(failed).toEqual([]);
    expect(cache.every((c) => c === 'MISS')).toBe(true);

    // nginx's own record: both replicas served before the kill, only the survivor after it, and
    // at least one request found the dead replica and was retried on the other.
    const a = `127.0.0.1:${victim.port}`;
    const b = `127.0.0.1:${survivor.port}`;
    const log = readFileSync(run.accessLog, 'utf8')
      .split('\n')
      .filter((l) => l.includes('/region?') && l.includes('width=64'));
    expect(log).toHaveLength(200);
    const upstreams = log.map((l) => /upstream=(.*?) upstream_status=/.exec(l)?.[1] ?? '');
    expect(upstreams.filter((u) => u === a).length).toBeGreaterThan(10);
    expect(upstreams.filter((u) => u === b).length).toBeGreaterThan(10);
    expect(upstreams.some((u) => u.startsWith(`${a}, ${b}`))).toBe(true);
    expect(upstreams.slice(-40).every((u) => u.endsWith(b))).toBe(true);

    // The survivor serves on through the proxy, and the cache keeps working.
    for (const expected of [/^(MISS|HIT)$/, /^HIT$/]) {
      const tile = await get(`${run.url}${CASES.tile}`);
      expect(tile.status).toBe(200);
      expect(tile.headers.get('x-cache-status')).toMatch(expected);
    }
    expect((await get(`${run.url}/readyz`)).status).toBe(200);
  }, 60_000);
});
