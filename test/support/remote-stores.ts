/**
 * Real stores for the object-storage tests and bench, all on 127.0.0.1 and started here: an S3
 * server (s3rver, from npm) with a bucket, nginx serving a directory with ranges and a JSON index,
 * and a fault proxy between the service and either (latency, 500s, resets, truncation, down).
 */
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import aws4 from 'aws4';
import S3rver from 's3rver';
import type { RemoteSettings } from '../../src/storage/open.js';
import { startProcess, stopProcess } from '../../dev/procs.js';

/** s3rver's fixed credentials (it checks signatures against them). */
export const S3_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
export const NGINX = '/usr/sbin/nginx';

export function remoteSettings(over: Partial<RemoteSettings> = {}): RemoteSettings {
  return {
    cacheBytes: 64 << 20,
    timeoutMs: 2_000,
    retries: 3,
    budgetMs: 6_000,
    connections: 32,
    region: 'us-east-1',
    endpoint: null,
    credentials: null,
    readMode: 'coalesced',
    ...over,
  };
}

export interface S3Server {
  endpoint: string;
  bucket: string;
  put(key: string, body: Buffer): Promise<void>;
  close(): Promise<void>;
}

export async function startS3(bucket = 'slides'): Promise<S3Server> {
  const dir = mkdtempSync(join(tmpdir(), 's3rver-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory: dir,
    configureBuckets: [{ name: bucket }],
  });
  const addr = (await server.run()) as AddressInfo;
  const endpoint = `http://127.0.0.1:${addr.port}`;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  const put = (key: string, body: Buffer) =>
    new Promise<void>((resolve, reject) => {
      const path = `/${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
      const req = {
        host: `127.0.0.1:${addr.port}`,
        path,
        method: 'PUT',
        service: 's3',
        region: 'us-east-1',
        body,
        headers: {},
      };
      aws4.sign(req, S3_CREDENTIALS);
      const r = http.request(
        { host: '127.0.0.1', port: addr.port, path, method: 'PUT', headers: req.headers, agent },
        (res) => {
          res.resume();
          res.on('end', () =>
            res.statusCode === 200 ? resolve() : reject(new Error(`PUT ${key}: ${res.statusCode}`)),
          );
        },
      );
      r.on('error', reject);
      r.end(body);
    });
  return {
    endpoint,
    bucket,
    put,
    close: async () => {
      agent.destroy();
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Every file under `dir` with its path relative to it (`/` separators). */
export function filesUnder(dir: string): Array<{ key: string; path: string }> {
  const out: Array<{ key: string; path: string }> = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out.push({ key: relative(dir, p).split(sep).join('/'), path: p });
    }
  };
  walk(dir);
  return out;
}

export async function uploadDir(s3: S3Server, dir: string, prefix = ''): Promise<void> {
  for (const f of filesUnder(dir)) await s3.put(prefix + f.key, readFileSync(f.path));
}

export interface Nginx {
  base: string;
  close(): Promise<void>;
}

/** nginx serving `root` (ranges, ETags, a JSON directory index) on a free loopback port. */
export async function startNginx(root: string): Promise<Nginx> {
  const dir = mkdtempSync(join(tmpdir(), 'nginx-files-'));
  // nginx's workers run unprivileged: let them read the files (temp directories are 0700).
  // Only directories strictly below the temp directory: /tmp itself keeps its own mode (1777).
  for (let d = resolve(root); d.startsWith(tmpdir() + sep); d = dirname(d)) chmodSync(d, 0o755);
  for (const f of filesUnder(root)) chmodSync(f.path, 0o644);
  for (const f of readdirRecursive(root)) chmodSync(f, 0o755);
  const port = await freePort();
  writeFileSync(
    join(dir, 'nginx.conf'),
    `daemon off; worker_processes 1; pid ${join(dir, 'nginx.pid')}; error_log stderr warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fcgi;
  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  server { listen 127.0.0.1:${port}; root ${root}; location / { autoindex on; autoindex_format json; } }
}
`,
  );
  // Recorded by PID (dev/procs.ts): the bench's and the tests' exit hooks stop it whatever happens.
  const proc = startProcess('nginx-files', NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', 'stderr']);
  const base = `http://127.0.0.1:${port}/`;
  const close = async () => {
    await stopProcess(proc);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(async () => (await fetch(base)).ok, 10_000);
  } catch (e) {
    await close();
    throw e;
  }
  return { base, close };
}

function readdirRecursive(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true }))
      if (e.isDirectory()) {
        out.push(join(d, e.name));
        walk(join(d, e.name));
      }
  };
  walk(root);
  return out;
}

export async function freePort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

async function waitFor(ok: () => Promise<boolean>, ms: number): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      if (await ok()) return;
    } catch {
      // not up yet
    }
    if (Date.now() > until) throw new Error('the server did not come up in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** What the fault proxy does to the next requests (each count is used up one request at a time). */
export interface Faults {
  /** Added before forwarding each request (a round trip of latency). */
  latencyMs: number;
  /** Answer 500 to this many requests. */
  errors500: number;
  /** Answer 503 SlowDown (S3's throttling) to this many. */
  slowDown: number;
  /** Send half the body, then reset the connection, for this many. */
  resets: number;
  /** Send half the body and end it cleanly (a Content-Length that lies), for this many. */
  truncations: number;
  /** Refuse every connection (the store is down). */
  down: boolean;
  /** The 500s and SlowDowns above hit ranged GETs only (HEAD, listings and whole GETs pass). */
  onlyRanges: boolean;
}

export interface FaultProxy {
  url: string;
  faults: Faults;
  /** Requests that reached the proxy, by method (GET includes ranged GETs). */
  counts: { GET: number; HEAD: number; ranged: number };
  reset(): void;
  close(): Promise<void>;
}

const NO_FAULTS: Faults = {
  latencyMs: 0,
  errors500: 0,
  slowDown: 0,
  resets: 0,
  truncations: 0,
  down: false,
  onlyRanges: false,
};

/** An HTTP proxy to `upstream` (host:port kept in the Host header, so S3 signatures still match). */
export async function startFaultProxy(upstream: string): Promise<FaultProxy> {
  const up = new URL(upstream);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 128 });
  const p: FaultProxy = {
    url: '',
    faults: { ...NO_FAULTS },
    counts: { GET: 0, HEAD: 0, ranged: 0 },
    reset() {
      p.faults = { ...NO_FAULTS };
      p.counts = { GET: 0, HEAD: 0, ranged: 0 };
    },
    close: async () => {
      agent.destroy();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
  const server = http.createServer((req, res) => {
    const f = p.faults;
    if (f.down) return req.socket.destroy();
    if (req.method === 'HEAD') p.counts.HEAD++;
    else if (req.method === 'GET') p.counts.GET++;
    if (req.headers.range) p.counts.ranged++;
    const hit = !f.onlyRanges || req.headers.range !== undefined;
    if (hit && f.errors500 > 0) return (f.errors500--, res.writeHead(500).end('injected'));
    if (hit && f.slowDown > 0)
      return (
        f.slowDown--,
        res.writeHead(503, { 'Content-Type': 'application/xml' }).end('<Error><Code>SlowDown</Code></Error>')
      );
    const mode = f.resets > 0 ? (f.resets--, 'reset') : f.truncations > 0 ? (f.truncations--, 'truncate') : 'pass';
    const forward = () => {
      const out = http.request(
        { host: up.hostname, port: up.port, path: req.url, method: req.method, headers: req.headers, agent },
        (r) => {
          res.writeHead(r.statusCode ?? 502, r.headers);
          if (mode === 'pass') return void r.pipe(res);
          const chunks: Buffer[] = [];
          r.on('data', (c: Buffer) => chunks.push(c));
          r.on('end', () => {
            const body = Buffer.concat(chunks);
            res.write(body.subarray(0, Math.floor(body.length / 2)));
            if (mode === 'reset') setTimeout(() => res.socket?.destroy(), 5);
            else res.socket?.end();
          });
        },
      );
      out.on('error', () => res.socket?.destroy());
      req.pipe(out);
    };
    if (f.latencyMs > 0) setTimeout(forward, f.latencyMs);
    else forward();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  p.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return p;
}
