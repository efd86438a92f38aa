/**
 * The container setup, checked without a Docker engine: docker/Dockerfile through dockerfilelint
 * and against the properties the deployment relies on, its HEALTHCHECK run for real, the
 * compose file parsed, and docker/nginx.conf against what the compose file and the service
 * expect of it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run as dockerfilelint } from 'dockerfilelint';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { runProcess } from '../../dev/procs.js';
import { loopbackNginxConf } from '../../scripts/scale-out.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const read = (p: string) => readFileSync(join(ROOT, p), 'utf8');
const DOCKERFILE = read('docker/Dockerfile');
const NGINX_CONF = read('docker/nginx.conf');
/** Every variable the service reads (src/config.ts is the only reader of process.env). */
const CONFIG_VARS = new Set(
  [...read('src/config.ts').matchAll(/\b(?:env\.|env, ')([A-Z][A-Z0-9_]+)/g)].map((m) => m[1]!),
);

interface Instruction {
  op: string;
  args: string;
  line: number;
}

/** Instructions with continuation lines joined, grouped by stage. */
function stages(text: string): Instruction[][] {
  const out: Instruction[][] = [];
  let pending = '';
  let start = 0;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!pending && (line === '' || line.startsWith('#'))) return;
    if (!pending) start = i + 1;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1).trim()} `;
      return;
    }
    const full = pending + line;
    pending = '';
    const [op = '', ...rest] = full.split(/\s+/);
    const ins = { op: op.toUpperCase(), args: rest.join(' '), line: start };
    if (ins.op === 'FROM') out.push([]);
    out.at(-1)?.push(ins);
  });
  return out;
}

/** Runs a Docker-style exec-form command (`node -e ...`) with this Node, returning its exit code. */
async function runExec(argv: string[], env: Record<string, string>): Promise<number | null> {
  expect(argv[0]).toBe('node');
  const childEnv = { ...process.env, ...env };
  return (await runProcess('HEALTHCHECK', process.execPath, argv.slice(1), { env: childEnv, stdio: 'ignore' })).code;
}

async function withServer(status: number, fn: (port: number) => Promise<void>): Promise<string[]> {
  const paths: string[] = [];
  const srv = createServer((req, res) => {
    paths.push(req.url ?? '');
    res.writeHead(status).end('{}');
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  try {
    await fn((srv.address() as AddressInfo).port);
  } finally {
    srv.closeAllConnections();
    await new Promise<void>((r) => srv.close(() => r()));
  }
  return paths;
}

describe('docker/Dockerfile', () => {
  const [build = [], runtime = [], ...more] = stages(DOCKERFILE);
  const find = (st: Instruction[], op: string) => st.filter((i) => i.op === op);

  it('passes dockerfilelint (but for its known HEALTHCHECK --start-period false positive)', () => {
    // dockerfilelint 1.8.0 reads HEALTHCHECK options with /--\w+/, which cuts "--start-period"
    // (a Docker option since 17.05) to "--start": that one report is expected, nothing else.
    const issues = dockerfilelint(join(ROOT, 'docker'), DOCKERFILE);
    const known = (i: { rule: string; line: number }) =>
      i.rule === 'invalid_format' && DOCKERFILE.split('\n')[i.line - 1]?.startsWith('HEALTHCHECK') === true;
    expect(issues.filter((i) => !known(i))).toEqual([]);
    expect(dockerfilelint(join(ROOT, 'docker'), DOCKERFILE.replace(/ --start-period=\w+/, ''))).toEqual([]);
  });

  it('is multi-stage on node:20-bookworm-slim: npm ci, build, prune in "build"; a runtime without toolchain', () => {
    expect(more).toEqual([]);
    expect(find(build, 'FROM')[0]?.args).toBe('node:20-bookworm-slim AS build');
    expect(find(runtime, 'FROM')[0]?.args).toMatch(/^node:20-bookworm-slim( AS \w+)?$/);
    const runs = find(build, 'RUN').map((i) => i.args);
    const at = (re: RegExp) => runs.findIndex((r) => re.test(r));
    expect(at(/\bnpm ci\b/)).toBeGreaterThan(-1);
    expect(at(/\bnpm ci\b/)).toBeLessThan(at(/\bnpm run build\b/));
    expect(at(/\bnpm prune --omit=dev\b/)).toBeGreaterThanOrEqual(at(/\bnpm run build\b/));
    // Install scripts stay on (better-sqlite3 and esbuild need theirs): never --ignore-scripts.
    expect(runs.join('\n')).not.toMatch(/ignore-scripts/);
    // The lockfile comes in before the sources, so a source change reuses the npm ci layer.
    const copies = find(build, 'COPY');
    expect(copies[0]?.args).toBe('package.json package-lock.json ./');
    expect(copies[0]!.line).toBeLessThan(find(build, 'RUN').find((r) => /npm ci/.test(r.args))!.line);
    // The runtime installs nothing from npm and no toolchain: only the JPEG library the addon links.
    const runtimeRuns = find(runtime, 'RUN')
      .map((i) => i.args)
      .join('\n');
    expect(runtimeRuns).not.toMatch(/npm (ci|install)|g\+\+|\bmake\b|-dev\b/);
    expect(runtimeRuns).toMatch(/apt-get install -y --no-install-recommends libjpeg62-turbo\b/);
    // The native decoder builds in npm ci (it needs its sources and libjpeg-turbo's headers there).
    expect(runs.find((r) => /npm ci/.test(r))).toMatch(
      /test -f native\/jpeg-region\/build\/Release\/jpeg_region\.node/,
    );
    expect(runs.join('\n')).toMatch(/libjpeg62-turbo-dev/);
  });

  it('copies dist, node_modules, the native decoder, package.json and openapi.yaml from the build stage', () => {
    const copied = find(runtime, 'COPY').map((i) => /^--from=build \/app\/(\S+) \.\/(\S+)$/.exec(i.args)?.slice(1));
    expect(copied.map((c) => c?.[0]).sort()).toEqual([
      'dist',
      'native/jpeg-region/build/Release/jpeg_region.node',
      'node_modules',
      'openapi.yaml',
      'package.json',
    ]);
    for (const c of copied) expect(c?.[1]).toBe(c?.[0]);
    // Everything the build stage copies from the context exists and is not .dockerignored.
    const ignored = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    for (const c of find(build, 'COPY')) {
      for (const src of c.args.split(' ').slice(0, -1)) {
        expect(existsSync(join(ROOT, src)), src).toBe(true);
        expect(
          ignored.some((p) => src === p || src.startsWith(`${p}/`)),
          src,
        ).toBe(false);
      }
    }
    for (const p of ['node_modules', 'dist', 'var', '.git', 'coverage', 'bench/results']) expect(ignored).toContain(p);
  });

  it('runs as node with the documented settings, volumes and port', () => {
    const env = Object.fromEntries(
      find(runtime, 'ENV').flatMap((i) => i.args.split(' ').map((kv) => kv.split('=') as [string, string])),
    );
    expect(env).toEqual({ NODE_ENV: 'production', PORT: '8080', DATA_DIR: '/data', INDEX_PATH: '/index/index.sqlite' });
    for (const k of Object.keys(env).filter((k) => k !== 'NODE_ENV')) expect(CONFIG_VARS).toContain(k);
    expect(find(runtime, 'USER').map((i) => i.args)).toEqual(['node']);
    expect(JSON.parse(find(runtime, 'VOLUME')[0]!.args)).toEqual(['/data', '/index']);
    expect(find(runtime, 'EXPOSE').map((i) => i.args)).toEqual(['8080']);
    const last = runtime.at(-1)!;
    expect(last.op).toBe('CMD');
    expect(JSON.parse(last.args)).toEqual(['node', 'dist/server.js']);
    expect(runtime.findIndex((i) => i.op === 'USER')).toBeLessThan(runtime.length - 1);
  });

  it('has a HEALTHCHECK in exec form with node against /healthz that really tells up from down', async () => {
    const hc = find(runtime, 'HEALTHCHECK');
    expect(hc).toHaveLength(1);
    const m = /^((?:--[\w-]+=\w+ )*)CMD (\[.*\])$/.exec(hc[0]!.args);
    expect(m, hc[0]!.args).not.toBeNull();
    expect(m![1]).toMatch(/--start-period=\d+s/);
    const argv = JSON.parse(m![2]!) as string[];
    expect(argv.join(' ')).toContain('/healthz');
    const seen = await withServer(200, async (port) => expect(await runExec(argv, { PORT: String(port) })).toBe(0));
    expect(seen).toEqual(['/healthz']);
    await withServer(503, async (port) => expect(await runExec(argv, { PORT: String(port) })).toBe(1));
    const closed = await withServer(200, async () => {});
    expect(closed).toEqual([]);
    expect(await runExec(argv, { PORT: '1' })).toBe(1);
  });
});

type Service = {
  image?: string;
  build?: { context: string; dockerfile: string };
  profiles?: string[];
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  depends_on?: Record<string, { condition: string }>;
  deploy?: { replicas?: string | number };
  healthcheck?: { test: string[]; start_period?: string };
};

describe('docker/compose.yaml', () => {
  const compose = parse(read('docker/compose.yaml'), { merge: true }) as {
    services: Record<string, Service>;
    volumes: Record<string, unknown>;
  };
  const s = compose.services;

  it('has the demo service and the "scaled" profile (ingest, replicas, proxy), each in a profile', () => {
    expect(Object.keys(s).sort()).toEqual(['ingest', 'proxy', 'slides', 'slides-demo']);
    expect(s['slides-demo']!.profiles).toEqual(['demo']);
    for (const name of ['ingest', 'slides', 'proxy']) expect(s[name]!.profiles).toEqual(['scaled']);
    for (const name of ['slides-demo', 'ingest', 'slides']) {
      expect(s[name]!.build).toEqual({ context: '..', dockerfile: 'docker/Dockerfile' });
      expect(existsSync(join(ROOT, 'docker', s[name]!.build!.context, s[name]!.build!.dockerfile))).toBe(true);
    }
  });

  it('demo: no DATA_DIR, so the demo is generated into a writable volume with the index', () => {
    const d = s['slides-demo']!;
    expect(d.environment!.DATA_DIR).toBe('');
    // Only directories the image creates owned by "node" make writable named volumes.
    expect(d.volumes).toEqual(['demo:/index']);
    expect(DOCKERFILE).toMatch(/chown node:node \/data \/index/);
    expect(d.environment!.DEMO_DIR).toMatch(/^\/index\//);
    expect(d.environment!.INDEX_PATH).toMatch(/^\/index\//);
    expect(d.ports).toEqual(['8080:8080']);
  });

  it('scaled: a one-shot ingest is the only writer; N replicas mount data and index read-only', () => {
    const ingest = s.ingest!;
    expect(ingest.command).toEqual(['node', 'dist/cli.js', 'ingest']);
    expect(ingest.volumes).toEqual([expect.stringMatching(/:\/data:ro$/), 'index:/index']);
    const replica = s.slides!;
    expect(replica.environment!.INGEST_ON_START).toBe('false');
    expect(replica.volumes!.length).toBe(2);
    for (const v of replica.volumes!) expect(v).toMatch(/:ro$/);
    expect(replica.volumes).toContain('index:/index:ro');
    expect(replica.depends_on).toEqual({ ingest: { condition: 'service_completed_successfully' } });
    expect(replica.ports).toBeUndefined(); // reached through the proxy only
    expect(Number(/^\$\{REPLICAS:-(\d+)\}$/.exec(String(replica.deploy!.replicas))?.[1])).toBeGreaterThanOrEqual(2);
    const proxy = s.proxy!;
    expect(proxy.image).toMatch(/^nginx:1\.(2[89]|[3-9]\d)/); // "resolve" in upstreams needs >= 1.27.3
    expect(proxy.volumes).toContain('./nginx.conf:/etc/nginx/nginx.conf:ro');
    expect(proxy.depends_on).toEqual({ slides: { condition: 'service_healthy' } });
    expect(proxy.ports).toEqual(['8080:8080']);
  });

  it('every long-running service has a healthcheck; the service ones probe /readyz with node', async () => {
    for (const name of ['slides-demo', 'slides', 'proxy']) expect(s[name]!.healthcheck?.test[0], name).toBe('CMD');
    expect(s.ingest!.healthcheck).toBeUndefined();
    for (const name of ['slides-demo', 'slides']) {
      const argv = s[name]!.healthcheck!.test.slice(1);
      expect(s[name]!.healthcheck!.start_period).toBeDefined();
      const seen = await withServer(200, async (port) => expect(await runExec(argv, { PORT: String(port) })).toBe(0));
      expect(seen).toEqual(['/readyz']);
      await withServer(503, async (port) => expect(await runExec(argv, { PORT: String(port) })).toBe(1));
    }
  });

  it('sets only variables the service reads, and declares every named volume it uses', () => {
    for (const [name, svc] of Object.entries(s)) {
      for (const k of Object.keys(svc.environment ?? {})) expect(CONFIG_VARS, `${name}: ${k}`).toContain(k);
      for (const v of svc.volumes ?? []) {
        const src = v.split(':')[0]!;
        if (!/^[.$/]/.test(src)) expect(Object.keys(compose.volumes), `${name}: ${v}`).toContain(src);
      }
    }
  });
});

describe('docker/nginx.conf', () => {
  it('caches by URL, revalidates with ETags, serves stale, retries another replica, says HIT or MISS', () => {
    for (const line of [
      'proxy_cache slides;',
      'proxy_cache_key $request_uri;',
      'proxy_cache_revalidate on;',
      'proxy_next_upstream error timeout http_502 http_503;',
      'add_header X-Cache-Status $upstream_cache_status always;',
    ])
      expect(NGINX_CONF).toContain(line);
    expect(NGINX_CONF).toMatch(/proxy_cache_use_stale error timeout updating/);
    expect(NGINX_CONF).toMatch(/keys_zone=slides:/);
    // The upstream and the listen port are the compose service's.
    expect(NGINX_CONF).toMatch(/server slides:8080 resolve/);
    expect(NGINX_CONF).toMatch(/^\s*listen 8080;/m);
  });

  it('the loopback config of scripts/scale-out.ts keeps every proxy setting as written', () => {
    const conf = loopbackNginxConf(NGINX_CONF, { dir: '/tmp/x', listenPort: 18080, upstreams: [18081, 18082] });
    const kept = NGINX_CONF.split('\n').filter((l) =>
      /^\s*(proxy_(?!cache_path)|add_header|location|client_max_body_size)/.test(l),
    );
    expect(kept.length).toBeGreaterThan(20);
    for (const l of kept) expect(conf).toContain(l);
    expect(conf).toContain('server 127.0.0.1:18081 max_fails=1 fail_timeout=5s;');
    expect(conf).toContain('listen 127.0.0.1:18080;');
    expect(conf).not.toMatch(/resolver|slides:8080|\/var\/cache|listen 8080/);
  });
});
