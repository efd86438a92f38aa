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
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  freePort,
  runProcess,
  startProcess,
  stopProcess,
  waitForHttp,
  waitForLine,
  type Started,
} from '../dev/procs.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const NGINX_TEMPLATE = join(ROOT, 'docker', 'nginx.conf');
export const NGINX_BIN = '/usr/sbin/nginx';
/** SIGTERM first, SIGKILL after this: nginx and a replica with nothing in flight stop well within it. */
const STOP_GRACE_MS = 5000;

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
  proc: Started;
}

export interface ScaleOut {
  /** The proxy. */
  url: string;
  replicas: Replica[];
  nginx: { pid: number; port: number; proc: Started };
  /** Config, pid file, access log, temp paths and cache. */
  dir: string;
  accessLog: string;
  stop(): Promise<void>;
}

/** docker/nginx.conf with its environment-specific lines swapped for a loopback, foreground run. */
export function loopbackNginxConf(
  template: string,
  o: { dir: string; listenPort: number; upstreams: number[] },
): string {
  const q = (p: string) => `"${join(o.dir, p)}"`;
  let conf = template;
  // Each swapped line must be there exactly once: a reworded template fails here, loudly.
  const swap = (what: RegExp, to: (m: RegExpExecArray) => string) => {
    const all = [...conf.matchAll(new RegExp(what.source, `${what.flags}g`))];
    const m = all[0];
    if (all.length !== 1 || !m)
      throw new Error(`docker/nginx.conf: expected one match of ${what}, found ${all.length}`);
    conf = conf.slice(0, m.index) + to(m) + conf.slice(m.index + m[0].length);
  };
  swap(/^worker_processes .*;.*$/m, () => 'daemon off;\nworker_processes 1;');
  swap(/^pid .*;.*$/m, () => `pid ${q('nginx.pid')};`);
  swap(/^error_log .*;.*$/m, () => `error_log ${q('error.log')} warn;`);
  swap(/^([ \t]*)access_log \S+ (\w+);.*$/m, (m) =>
    [
      `${m[1]}access_log ${q('access.log')} ${m[2]};`,
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `${m[1]}${t}_temp_path ${q(`${t}_temp`)};`),
    ].join('\n'),
  );
  swap(/^[ \t]*resolver .*;.*\n/m, () => '');
  swap(/^([ \t]*)upstream (\w+) \{[^}]*?server \S+ resolve ([^;]*);[^}]*\}.*$/m, (m) =>
    [
      `${m[1]}upstream ${m[2]} {`,
      ...o.upstreams.map((p) => `${m[1]}    server 127.0.0.1:${p} ${m[3]};`),
      `${m[1]}    keepalive 32;`,
      `${m[1]}}`,
    ].join('\n'),
  );
  swap(/(proxy_cache_path )\/\S+/, (m) => `${m[1]}${q('cache')}`);
  swap(/^([ \t]*)listen \d+;.*$/m, (m) => `${m[1]}listen 127.0.0.1:${o.listenPort};`);
  return conf;
}

function nodeArgs(entry: 'dist' | 'src', script: 'server' | 'cli'): string[] {
  return entry === 'dist'
    ? [join(ROOT, 'dist', `${script}.js`)]
    : ['--import', 'tsx', join(ROOT, 'src', `${script}.ts`)];
}

/** The port in the service's JSON "listening on" log line, or undefined for any other line. */
function listeningPort(line: string): number | undefined {
  if (!line.includes('listening on')) return undefined;
  try {
    const p = (JSON.parse(line) as { port?: unknown }).port;
    return typeof p === 'number' ? p : undefined;
  } catch {
    return undefined; // not a JSON log line
  }
}

/** Starts one replica on an ephemeral port of 127.0.0.1 and waits for its "listening" line. */
async function startReplica(
  n: number,
  o: Required<Pick<ScaleOutOptions, 'dataDir' | 'indexPath' | 'entry'>>,
  sink: (s: string, l: string) => void,
): Promise<Replica> {
  const env = {
    ...process.env,
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: o.dataDir,
    INDEX_PATH: o.indexPath,
    INGEST_ON_START: 'false',
    LOG_LEVEL: 'info',
    // A replica is one process here: the test is about replicas behind the cache, not cores.
    WORKERS: '1',
  };
  const proc = startProcess(`replica ${n}`, process.execPath, nodeArgs(o.entry, 'server'), { cwd: ROOT, env });
  proc.onLine((l) => sink(`replica${n}`, l));
  try {
    const port = await waitForLine(proc, '"listening on" line', listeningPort, 30_000);
    return { pid: proc.pid, port, url: `http://127.0.0.1:${port}`, proc };
  } catch (e) {
    await stopProcess(proc, STOP_GRACE_MS);
    throw e;
  }
}

/** Starts nginx on `port` and waits for its /healthz; null when the port was taken meanwhile. */
async function startNginx(
  nginx: string,
  dir: string,
  port: number,
  sink: (s: string, l: string) => void,
  fixedPort: boolean,
): Promise<ScaleOut['nginx'] | null> {
  const proc = startProcess('nginx', nginx, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', 'stderr']);
  proc.onLine((l) => sink('nginx', l));
  try {
    await waitForHttp(`http://127.0.0.1:${port}/healthz`, 10_000, { proc });
    return { pid: proc.pid, port, proc };
  } catch (e) {
    await stopProcess(proc, STOP_GRACE_MS);
    const err = existsSync(join(dir, 'error.log')) ? readFileSync(join(dir, 'error.log'), 'utf8') : '';
    if (!fixedPort && /in use/.test(err + proc.tail())) return null;
    throw new Error(`nginx did not start: ${(e as Error).message}\n${err}`, { cause: e });
  }
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
    const procs = [...(proxy ? [proxy.proc] : []), ...replicas.map((r) => r.proc)];
    await Promise.all(procs.map((p) => stopProcess(p, STOP_GRACE_MS)));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 1; i <= (opts.replicas ?? 2); i++) replicas.push(await startReplica(i, o, sink));
    await Promise.all(replicas.map((r) => waitForHttp(`${r.url}/readyz`, 30_000, { proc: r.proc })));
    const template = readFileSync(NGINX_TEMPLATE, 'utf8');
    // A port picked free may be taken before nginx binds it: try a few.
    for (let attempt = 0; attempt < 3 && !proxy; attempt++) {
      const port = opts.port || (await freePort());
      writeFileSync(
        join(dir, 'nginx.conf'),
        loopbackNginxConf(template, { dir, listenPort: port, upstreams: replicas.map((r) => r.port) }),
      );
      proxy = (await startNginx(nginx, dir, port, sink, Boolean(opts.port))) ?? undefined;
    }
    if (!proxy) throw new Error('nginx found no free port in 3 tries');
    writeFileSync(join(dir, 'pids.json'), JSON.stringify({ nginx: proxy.pid, replicas: replicas.map((r) => r.pid) }));
    return {
      url: `http://127.0.0.1:${proxy.port}`,
      replicas,
      nginx: proxy,
      dir,
      accessLog: join(dir, 'access.log'),
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

async function main(argv: string[]): Promise<void> {
  if (argv[0] === 'stop') {
    const pids = JSON.parse(readFileSync(join(argv[1] ?? '.', 'pids.json'), 'utf8')) as {
      nginx: number;
      replicas: number[];
    };
    await Promise.all([pids.nginx, ...pids.replicas].map((pid) => stopProcess(pid, STOP_GRACE_MS)));
    return;
  }
  const flag = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const entryFlag = flag('entry');
  const entry =
    entryFlag === 'dist' || entryFlag === 'src'
      ? entryFlag
      : existsSync(join(ROOT, 'dist', 'server.js'))
        ? 'dist'
        : 'src';
  const dataDir = resolve(process.env.DATA_DIR ?? join(ROOT, 'var', 'demo'));
  const indexPath = resolve(process.env.INDEX_PATH ?? join(ROOT, 'var', 'index.sqlite'));
  if (!existsSync(indexPath)) {
    // The one-shot ingest of the compose profile: the replicas themselves never write the index.
    process.stderr.write(`no index at ${indexPath}: ingesting ${dataDir}\n`);
    const env = { ...process.env, DATA_DIR: dataDir, INDEX_PATH: indexPath };
    const args = [...nodeArgs(entry, 'cli'), 'ingest'];
    const ingest = await runProcess('ingest', process.execPath, args, { cwd: ROOT, env, stdio: 'inherit' });
    if (ingest.code !== 0) throw new Error(`ingest failed (exit ${ingest.code ?? ingest.signal})`);
  }
  const run = await startScaleOut({
    dataDir,
    indexPath,
    entry,
    replicas: Number(flag('replicas') ?? 2),
    port: Number(flag('port') ?? 8080),
    onOutput: (source, line) => source === 'nginx' && process.stderr.write(`${source}: ${line}\n`),
  });
  process.stdout.write(
    [
      `proxy   ${run.url}  (nginx pid ${run.nginx.pid}; X-Cache-Status on every response)`,
      ...run.replicas.map((r, i) => `replica ${i + 1} ${r.url}  (pid ${r.pid}, ${entry})`),
      `state   ${run.dir}  (nginx.conf, access.log, pids.json; stop: npx tsx scripts/scale-out.ts stop ${run.dir})`,
      '',
    ].join('\n'),
  );
  await new Promise<void>((r) => {
    process.once('SIGINT', r);
    process.once('SIGTERM', r);
    void run.nginx.proc.done.then(() => r());
  });
  await run.stop();
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`scale-out: ${(e as Error).message}\n`);
    process.exit(1);
  });
}
