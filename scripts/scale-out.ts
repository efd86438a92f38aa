/**
 * Scale-out on one machine, loopback only: N replicas of the service (same DATA_DIR and
 * INDEX_PATH, no ingest of their own) behind nginx as a caching reverse proxy. The nginx config
 * is derived from docker/nginx.conf (only its "(env)" lines change), so this runs the very cache
 * and retry settings of the compose profile "scaled".
 *
 *   npx tsx scripts/scale-out.ts [--replicas 2] [--port 8080] [--entry dist|src]
 *       DATA_DIR (default var/demo) and INDEX_PATH (default var/index.sqlite) from the
 *       environment; the index is built first when missing. Ctrl-C stops everything.
 *   npx tsx scripts/scale-out.ts stop <dir>      stops a run by the PIDs in <dir>/pids.json
 *
 * Needs nginx (Debian: apt-get install -y --no-install-recommends nginx).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { freePort } from '../bench/procs.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const NGINX_TEMPLATE = join(ROOT, 'docker', 'nginx.conf');
export const NGINX_BIN = '/usr/sbin/nginx';

export interface ScaleOutOptions {
  dataDir: string;
  indexPath: string;
  replicas?: number;
  /** The proxy's port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  /** `dist`: node dist/server.js (needs `npm run build`); `src`: the TypeScript through tsx. */
  entry?: 'dist' | 'src';
  nginx?: string;
  /** Where each replica's output goes (default: dropped). */
  onOutput?: (source: string, line: string) => void;
}

export interface Replica {
  pid: number;
  port: number;
  url: string;
  child: ChildProcess;
}

export interface ScaleOut {
  /** The proxy. */
  url: string;
  replicas: Replica[];
  nginx: { pid: number; port: number; child: ChildProcess };
  /** Config, pid file, access log, temp paths and cache. */
  dir: string;
  accessLog: string;
  stop(): Promise<void>;
}

/** docker/nginx.conf with its environment-specific lines swapped for a loopback, foreground run. */
export function loopbackNginxConf(template: string, o: { dir: string; listenPort: number; upstreams: number[] }): string {
  const q = (p: string) => `"${join(o.dir, p)}"`;
  let conf = template;
  // Each swapped line must be there exactly once: a reworded template fails here, loudly.
  const swap = (what: RegExp, to: (m: RegExpExecArray) => string) => {
    const all = [...conf.matchAll(new RegExp(what.source, `${what.flags}g`))];
    const m = all[0];
    if (all.length !== 1 || !m) throw new Error(`docker/nginx.conf: expected one match of ${what}, found ${all.length}`);
    conf = conf.slice(0, m.index) + to(m) + conf.slice(m.index + m[0].length);
  };
  swap(/^worker_processes .*;.*$/m, () => 'daemon off;\nworker_processes 1;');
  swap(/^pid .*;.*$/m, () => `pid ${q('nginx.pid')};`);
  swap(/^error_log .*;.*$/m, () => `error_log ${q('error.log')} warn;`);
  swap(/^([ \t]*)access_log \S+ (\w+);.*$/m, (m) =>
    [`${m[1]}access_log ${q('access.log')} ${m[2]};`,
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `${m[1]}${t}_temp_path ${q(`${t}_temp`)};`)].join('\n'));
  swap(/^[ \t]*resolver .*;.*\n/m, () => '');
  swap(/^([ \t]*)upstream (\w+) \{[^}]*?server \S+ resolve ([^;]*);[^}]*\}.*$/m, (m) =>
    [`${m[1]}upstream ${m[2]} {`, ...o.upstreams.map((p) => `${m[1]}    server 127.0.0.1:${p} ${m[3]};`), `${m[1]}    keepalive 32;`, `${m[1]}}`].join('\n'));
  swap(/(proxy_cache_path )\/\S+/, (m) => `${m[1]}${q('cache')}`);
  swap(/^([ \t]*)listen \d+;.*$/m, (m) => `${m[1]}listen 127.0.0.1:${o.listenPort};`);
  return conf;
}

function nodeArgs(entry: 'dist' | 'src', script: 'server' | 'cli'): string[] {
  return entry === 'dist' ? [join(ROOT, 'dist', `${script}.js`)] : ['--import', 'tsx', join(ROOT, 'src', `${script}.ts`)];
}

function lines(child: ChildProcess, source: string, sink: (source: string, line: string) => void, onLine?: (line: string) => void): void {
  for (const stream of [child.stdout, child.stderr]) {
    let rest = '';
    // Always drained: a replica blocked on a full pipe would look like a hung server.
    stream?.setEncoding('utf8').on('data', (chunk: string) => {
      const parts = (rest + chunk).split('\n');
      rest = parts.pop() ?? '';
      for (const l of parts) {
        sink(source, l);
        onLine?.(l);
      }
    });
  }
}

/** Starts one replica on an ephemeral port of 127.0.0.1 and waits for its "listening" line. */
async function startReplica(n: number, o: Required<Pick<ScaleOutOptions, 'dataDir' | 'indexPath' | 'entry'>>, sink: (s: string, l: string) => void): Promise<Replica> {
  const env = { ...process.env, PORT: '0', HOST: '127.0.0.1', DATA_DIR: o.dataDir, INDEX_PATH: o.indexPath, INGEST_ON_START: 'false', LOG_LEVEL: 'info' };
  const child = spawn(process.execPath, nodeArgs(o.entry, 'server'), { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const tail: string[] = [];
  const port = await new Promise<number>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`replica ${n} did not listen within 30 s:\n${tail.join('\n')}`)), 30_000);
    child.once('exit', (code, sig) => rej(new Error(`replica ${n} exited (${code ?? sig}) before listening:\n${tail.join('\n')}`)));
    lines(child, `replica${n}`, sink, (l) => {
      tail.push(l);
      if (tail.length > 20) tail.shift();
      if (!l.includes('listening on')) return;
      try {
        const p = (JSON.parse(l) as { port?: unknown }).port;
        if (typeof p === 'number') {
          clearTimeout(timer);
          res(p);
        }
      } catch { /* not a JSON log line */ }
    });
  }).catch((e: unknown) => {
    child.kill('SIGKILL');
    throw e;
  });
  return { pid: child.pid!, port, url: `http://127.0.0.1:${port}`, child };
}

async function waitHttp(url: string, ms: number, alive: () => boolean): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end && alive()) {
    try {
      if ((await fetch(url, { signal: AbortSignal.timeout(2000) })).ok) return true;
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

/** Stops a process by its PID: SIGTERM, then SIGKILL after `ms`. */
export async function stopPid(pid: number, ms = 5000): Promise<void> {
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (!alive()) return;
  process.kill(pid, 'SIGTERM');
  const end = Date.now() + ms;
  while (alive() && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  if (alive()) process.kill(pid, 'SIGKILL');
}

async function stopChild(child: ChildProcess, ms = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), ms);
  await exited;
  clearTimeout(timer);
}

export async function startScaleOut(opts: ScaleOutOptions): Promise<ScaleOut> {
  const nginx = opts.nginx ?? NGINX_BIN;
  if (!existsSync(nginx)) throw new Error(`${nginx} not found: apt-get install -y --no-install-recommends nginx`);
  const o = { dataDir: resolve(opts.dataDir), indexPath: resolve(opts.indexPath), entry: opts.entry ?? 'src' } as const;
  const sink = opts.onOutput ?? (() => {});
  const dir = mkdtempSync(join(tmpdir(), 'scale-out-'));
  // nginx running as root hands its cache and temp directories to an unprivileged worker user.
  chmodSync(dir, 0o755);
  const replicas: Replica[] = [];
  let proxy: ScaleOut['nginx'] | undefined;
  const stop = async () => {
    await Promise.all([...(proxy ? [stopChild(proxy.child)] : []), ...replicas.map((r) => stopChild(r.child))]);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 1; i <= (opts.replicas ?? 2); i++) replicas.push(await startReplica(i, o, sink));
    await Promise.all(replicas.map(async (r) => {
      if (!(await waitHttp(`${r.url}/readyz`, 30_000, () => r.child.exitCode === null))) throw new Error(`replica on ${r.port} never became ready`);
    }));
    const template = readFileSync(NGINX_TEMPLATE, 'utf8');
    // A port picked free may be taken before nginx binds it: try a few.
    for (let attempt = 0; attempt < 3 && !proxy; attempt++) {
      const port = opts.port || (await freePort());
      writeFileSync(join(dir, 'nginx.conf'), loopbackNginxConf(template, { dir, listenPort: port, upstreams: replicas.map((r) => r.port) }));
      const child = spawn(nginx, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', 'stderr'], { stdio: ['ignore', 'pipe', 'pipe'] });
      lines(child, 'nginx', sink);
      if (await waitHttp(`http://127.0.0.1:${port}/healthz`, 10_000, () => child.exitCode === null)) proxy = { pid: child.pid!, port, child };
      else {
        await stopChild(child);
        const err = existsSync(join(dir, 'error.log')) ? readFileSync(join(dir, 'error.log'), 'utf8') : '';
        if (opts.port || !/in use/.test(err)) throw new Error(`nginx did not start:\n${err}`);
      }
    }
    if (!proxy) throw new Error('nginx found no free port in 3 tries');
    writeFileSync(join(dir, 'pids.json'), JSON.stringify({ nginx: proxy.pid, replicas: replicas.map((r) => r.pid) }));
    return { url: `http://127.0.0.1:${proxy.port}`, replicas, nginx: proxy, dir, accessLog: join(dir, 'access.log'), stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

async function main(argv: string[]): Promise<void> {
  if (argv[0] === 'stop') {
    const pids = JSON.parse(readFileSync(join(argv[1] ?? '.', 'pids.json'), 'utf8')) as { nginx: number; replicas: number[] };
    await Promise.all([pids.nginx, ...pids.replicas].map((pid) => stopPid(pid)));
    return;
  }
  const flag = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const entryFlag = flag('entry');
  const entry = entryFlag === 'dist' || entryFlag === 'src' ? entryFlag : existsSync(join(ROOT, 'dist', 'server.js')) ? 'dist' : 'src';
  const dataDir = resolve(process.env.DATA_DIR ?? join(ROOT, 'var', 'demo'));
  const indexPath = resolve(process.env.INDEX_PATH ?? join(ROOT, 'var', 'index.sqlite'));
  if (!existsSync(indexPath)) {
    // The one-shot ingest of the compose profile: the replicas themselves never write the index.
    process.stderr.write(`no index at ${indexPath}: ingesting ${dataDir}\n`);
    const ingest = spawn(process.execPath, [...nodeArgs(entry, 'cli'), 'ingest'], { cwd: ROOT, env: { ...process.env, DATA_DIR: dataDir, INDEX_PATH: indexPath }, stdio: 'inherit' });
    const code = await new Promise<number | null>((r) => ingest.once('exit', r));
    if (code !== 0) throw new Error(`ingest failed (exit ${code})`);
  }
  const run = await startScaleOut({
    dataDir, indexPath, entry,
    replicas: Number(flag('replicas') ?? 2),
    port: Number(flag('port') ?? 8080),
    onOutput: (source, line) => source === 'nginx' && process.stderr.write(`${source}: ${line}\n`),
  });
  process.stdout.write([
    `proxy   ${run.url}  (nginx pid ${run.nginx.pid}; X-Cache-Status on every response)`,
    ...run.replicas.map((r, i) => `replica ${i + 1} ${r.url}  (pid ${r.pid}, ${entry})`),
    `state   ${run.dir}  (nginx.conf, access.log, pids.json; stop: npx tsx scripts/scale-out.ts stop ${run.dir})`,
    '',
  ].join('\n'));
  await new Promise<void>((r) => {
    process.once('SIGINT', r);
    process.once('SIGTERM', r);
    run.nginx.child.once('exit', r);
  });
  await run.stop();
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`scale-out: ${(e as Error).message}\n`);
    process.exit(1);
  });
}
