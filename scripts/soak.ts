/**
 * npm run soak [-- --seconds N --clients N --every N --tsx]
 *
 * A bounded soak of the real service: builds (or reuses) the core test dataset under var/soak/,
 * ingests it, builds the service (`npm run build`; `--tsx` runs src/server.ts through tsx
 * instead) and starts it on 127.0.0.1 with INGEST_ON_START=false, then runs a mixed load for
 * `--seconds` (default 120) from `--clients` concurrent clients (default 8) over keep-alive
 * connections: slide tiles (native geometry and 254/1), mask tiles (raw and color), thumbnails,
 * POST /samples, /region patches and POST /batches of ~50 samples, about 1 in 5 of which the
 * client abandons mid-stream on purpose. Every `--every` seconds (default 5) it prints the
 * server's RSS (VmRSS of its PID) and the load so far; at the end requests/s, errors and
 * p50/p99 per kind, the RSS series and whether it levels off (the last third's peak not more
 * than 10% above the middle third's). Exits non-zero on any unintended error: a 5xx, an
 * unexpected 4xx, a connection error, or the server exiting early. Loopback only; the server is
 * stopped by its PID.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { freePort, rssOf, startProcess, stopProcess, waitForHttp, type Started } from '../dev/procs.js';
import { ingest } from '../src/indexer/ingest.js';
import { buildDataset } from '../test/support/core-dataset.js';

interface Options {
  seconds: number;
  clients: number;
  every: number;
  tsx: boolean;
}

const ROOT = resolve(import.meta.dirname, '..');
const SOAK_DIR = join(ROOT, 'var', 'soak');
const DATA_DIR = join(SOAK_DIR, 'data');
const INDEX_PATH = join(SOAK_DIR, 'index.sqlite');
const LOG_PATH = join(SOAK_DIR, 'server.log');
const PID_PATH = join(SOAK_DIR, 'server.pid');
/** Share of batch requests the client abandons after the first chunks. */
const ABORT_SHARE = 0.2;
const BATCH_SAMPLES = 50;

type Kind = 'tile-native' | 'tile-254' | 'mask-raw' | 'mask-color' | 'thumbnail' | 'samples' | 'region' | 'batch';
/** How often each kind is picked: a viewer's tiles dominate, training traffic is the rest. */
const MIX: Array<[Kind, number]> = [
  ['tile-native', 24],
  ['tile-254', 24],
  ['mask-raw', 10],
  ['mask-color', 10],
  ['thumbnail', 6],
  ['samples', 8],
  ['region', 14],
  ['batch', 4],
];

interface SlideInfo {
  id: string;
  width: number;
  height: number;
  tile: number;
  mpp: number | null;
  labelled: boolean;
}

interface KindStats {
  ok: number;
  aborted: number;
  http4xx: number;
  http5xx: number;
  conn: number;
  bytes: number;
  ms: number[];
  examples: string[];
}

function parseArgs(argv: string[]): Options {
  const o: Options = { seconds: 120, clients: 8, every: 5, tsx: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = () => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v <= 0) throw new Error(`${a} takes a positive number`);
      return v;
    };
    if (a === '--seconds') o.seconds = next();
    else if (a === '--clients') o.clients = Math.round(next());
    else if (a === '--every') o.every = next();
    else if (a === '--tsx') o.tsx = true;
    else throw new Error(`unknown argument ${a} (use --seconds N, --clients N, --every N, --tsx)`);
  }
  return o;
}

const log = (line: string) => process.stdout.write(`${line}\n`);

async function prepareDataset(): Promise<void> {
  if (!existsSync(join(DATA_DIR, 'manifest.json'))) {
    log(`soak: building the dataset in ${DATA_DIR}`);
    rmSync(DATA_DIR, { recursive: true, force: true });
    await buildDataset(DATA_DIR);
  } else {
    log(`soak: reusing the dataset in ${DATA_DIR}`);
  }
  const t0 = performance.now();
  const r = await ingest({ dataDir: DATA_DIR, indexPath: INDEX_PATH });
  log(
    `soak: ingest ${r.published ? 'published' : 'up to date'} in ${((performance.now() - t0) / 1000).toFixed(1)} s (${r.indexed.length} indexed, ${r.unchanged.length} unchanged, ${r.problems.length} problems)`,
  );
}

function build(): void {
  log('soak: npm run build');
  const r = spawnSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new Error(`npm run build failed (${r.status ?? r.signal})`);
}

function startServer(port: number, tsx: boolean): Started {
  // One process (no npm/npx wrapper, WORKERS=1), so its PID is the server and its RSS is the service's.
  const args = tsx ? ['--import', 'tsx', 'src/server.ts'] : ['dist/server.js'];
  const env = {
    ...process.env,
    HOST: '127.0.0.1',
    PORT: String(port),
    DATA_DIR,
    INDEX_PATH,
    INGEST_ON_START: 'false',
    LOG_LEVEL: 'warn',
    WORKERS: '1',
  };
  const server = startProcess('the server', process.execPath, args, { cwd: ROOT, env, logFile: LOG_PATH });
  writeFileSync(PID_PATH, `${server.pid}\n`);
  return server;
}

/** VmRSS of a process in MB, or null once it is gone. */
function rssMb(pid: number): number | null {
  const r = rssOf(pid);
  return r ? r.rss / 1048576 : null;
}

async function stopServer(server: Started): Promise<string> {
  // The service drains for READINESS_GRACE_MS + DRAIN_MS after SIGTERM: give it that and more.
  const how = await stopProcess(server, 15_000);
  rmSync(PID_PATH, { force: true });
  return how;
}

async function slides(base: string): Promise<SlideInfo[]> {
  const list = (await (await fetch(`${base}/slides?status=ok&limit=1000`)).json()) as {
    items: Array<{ id: string; classes: unknown[] }>;
  };
  const out: SlideInfo[] = [];
  for (const s of list.items) {
    const d = (await (await fetch(`${base}/slides/${s.id}`)).json()) as {
      width: number;
      height: number;
      tileWidth: number;
      tileHeight: number;
      mpp: { x: number } | null;
    };
    const tile = d.tileWidth === d.tileHeight && d.tileWidth >= 16 && d.tileWidth <= 2048 ? d.tileWidth : 256;
    out.push({
      id: s.id,
      width: d.width,
      height: d.height,
      tile,
      mpp: d.mpp?.x ?? null,
      labelled: s.classes.length > 0,
    });
  }
  return out;
}

const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)]!;
const int = (lo: number, hi: number) => lo + Math.floor(Math.random() * (hi - lo + 1));

/** A DeepZoom tile address among the finest 5 levels (the ones a viewer mostly asks for). */
function tileAddress(s: SlideInfo, tileSize: number): string {
  const top = Math.ceil(Math.log2(Math.max(s.width, s.height)));
  const level = Math.max(0, top - int(0, 4));
  const scale = 2 ** (top - level);
  const cols = Math.ceil(Math.ceil(s.width / scale) / tileSize);
  const rows = Math.ceil(Math.ceil(s.height / scale) / tileSize);
  return `${level}/${int(0, cols - 1)}_${int(0, rows - 1)}`;
}

interface Planned {
  url: string;
  init?: RequestInit;
  abortAfterBytes?: number;
}

function plan(kind: Kind, base: string, all: SlideInfo[]): Planned {
  const labelled = all.filter((s) => s.labelled);
  const s = pick(kind.startsWith('mask') || kind === 'region' ? labelled : all);
  const json = (body: unknown): RequestInit => ({
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  switch (kind) {
    case 'tile-native':
      return { url: `${base}/slides/${s.id}/image_files/${tileAddress(s, s.tile)}.jpeg` };
    case 'tile-254':
      return {
        url: `${base}/slides/${s.id}/image_files/${tileAddress(s, 254)}.${pick(['jpeg', 'jpeg', 'webp', 'png'])}?tileSize=254&overlap=1`,
      };
    case 'mask-raw':
      return { url: `${base}/slides/${s.id}/mask_files/${tileAddress(s, s.tile)}.png` };
    case 'mask-color':
      return {
        url: `${base}/slides/${s.id}/mask_files/${tileAddress(s, 254)}.png?tileSize=254&overlap=1&style=color&opacity=${pick(['0.5', '0.75', '1'])}${pick(['', '&classes=artefact', '&classes=metastasis,adipose'])}`,
      };
    case 'thumbnail':
      return {
        url: `${base}/slides/${s.id}/thumbnail.${pick(['jpeg', 'png', 'webp'])}?maxSize=${pick([128, 256, 512, 1024])}`,
      };
    case 'samples':
      return {
        url: `${base}/samples`,
        init: json({
          classes: pick([['adipose', 'metastasis'], ['background'], ['connective-tissue', 'fold']]),
          count: pick([64, 256, 1000]),
          size: pick([128, 256]),
          seed: int(0, 1e9),
          balance: pick(['classes', 'slides']),
        }),
      };
    case 'region': {
      const size = pick([128, 256, 512]);
      const byMpp = s.mpp !== null && Math.random() < 0.4;
      const res = byMpp ? `mpp=${pick([0.5, 1, 2])}` : `level=${pick([0, 0, 1])}`;
      const layer =
        Math.random() < 0.3
          ? `layer=mask&format=${pick(['png', 'npy'])}`
          : `format=${pick(['jpeg', 'png', 'webp', 'npy'])}`;
      return {
        url: `${base}/slides/${s.id}/region?x=${int(0, Math.max(0, s.width - size))}&y=${int(0, Math.max(0, s.height - size))}&width=${size}&height=${size}&${res}&${layer}`,
      };
    }
    case 'batch':
      return {
        url: `${base}/batches`,
        init: json({
          classes: ['adipose', 'connective-tissue', 'metastasis'],
          count: BATCH_SAMPLES,
          size: pick([128, 256]),
          seed: int(0, 1e9),
          format: pick(['jpeg', 'png']),
          minFraction: 0.3,
        }),
        ...(Math.random() < ABORT_SHARE ? { abortAfterBytes: int(1, 200_000) } : {}),
      };
  }
}

function newStats(): KindStats {
  return { ok: 0, aborted: 0, http4xx: 0, http5xx: 0, conn: 0, bytes: 0, ms: [], examples: [] };
}

async function one(p: Planned, st: KindStats): Promise<void> {
  const t0 = performance.now();
  const ac = new AbortController();
  const timeout = setTimeout(() => ac.abort(new Error('no answer within 60 s')), 60_000);
  try {
    const res = await fetch(p.url, { ...p.init, signal: ac.signal });
    if (p.abortAfterBytes !== undefined && res.status === 200 && res.body) {
      // The client that goes away: read the first chunks, then drop the connection.
      const reader = res.body.getReader();
      let got = 0;
      while (got < p.abortAfterBytes) {
        const { done, value } = await reader.read();
        if (done) break;
        got += value.length;
      }
      ac.abort(new Error('intended abort'));
      await reader.cancel().catch(() => {});
      st.aborted++;
      st.bytes += got;
      return;
    }
    const body = Buffer.from(await res.arrayBuffer());
    const ms = performance.now() - t0;
    st.bytes += body.length;
    if (res.status >= 200 && res.status < 300) {
      st.ok++;
      st.ms.push(ms);
    } else {
      if (res.status >= 500) st.http5xx++;
      else st.http4xx++;
      if (st.examples.length < 3)
        st.examples.push(
          `${res.status} ${p.init?.method ?? 'GET'} ${p.url.replace(/^http:\/\/[^/]+/, '')}: ${body.toString('utf8').slice(0, 200)}`,
        );
    }
  } catch (e) {
    if (p.abortAfterBytes !== undefined && ac.signal.aborted && String(ac.signal.reason).includes('intended')) {
      st.aborted++;
      return;
    }
    st.conn++;
    if (st.examples.length < 3)
      st.examples.push(
        `connection error ${p.init?.method ?? 'GET'} ${p.url.replace(/^http:\/\/[^/]+/, '')}: ${String((e as Error).cause ?? (e as Error).message ?? e)}`,
      );
  } finally {
    clearTimeout(timeout);
  }
}

function percentile(xs: number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

function chooseKind(): Kind {
  const total = MIX.reduce((a, [, w]) => a + w, 0);
  let r = Math.random() * total;
  for (const [k, w] of MIX) if ((r -= w) < 0) return k;
  return MIX[0]![0];
}

async function main(): Promise<number> {
  const o = parseArgs(process.argv.slice(2));
  mkdirSync(SOAK_DIR, { recursive: true });
  await prepareDataset();
  if (!o.tsx) build();
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = startServer(port, o.tsx);
  const pid = server.pid;
  let exitedEarly: string | null = null;
  let stopping = false;
  void server.done.then(() => {
    if (!stopping) exitedEarly = `the server exited during the soak (${server.exitStatus()}); see ${LOG_PATH}`;
  });
  const stop = async () => {
    stopping = true;
    log(`soak: server pid ${pid} ${await stopServer(server)}`);
  };
  process.once('SIGINT', () => void stop().then(() => process.exit(130)));
  try {
    await waitForHttp(`${base}/readyz`, 60_000, { proc: server, intervalMs: 200 });
    const all = await slides(base);
    log(
      `soak: server pid ${pid} on ${base} (${o.tsx ? 'tsx src/server.ts' : 'node dist/server.js'}), ${all.length} readable slides (${all.filter((s) => s.labelled).length} labelled); ${o.clients} clients for ${o.seconds} s; RSS every ${o.every} s`,
    );

    const stats = new Map<Kind, KindStats>(MIX.map(([k]) => [k, newStats()]));
    const rss: Array<{ t: number; mb: number }> = [];
    const t0 = performance.now();
    const deadline = t0 + o.seconds * 1000;
    const totals = () =>
      [...stats.values()].reduce(
        (a, s) => ({
          n: a.n + s.ok + s.aborted + s.http4xx + s.http5xx + s.conn,
          err: a.err + s.http4xx + s.http5xx + s.conn,
        }),
        { n: 0, err: 0 },
      );
    const first = rssMb(pid);
    if (first !== null) rss.push({ t: 0, mb: first });
    log(`  t=   0 s  rss ${first?.toFixed(0) ?? '-'} MB`);
    let lastN = 0;
    let lastT = t0;
    const sampler = setInterval(() => {
      const now = performance.now();
      const mb = rssMb(pid);
      const { n, err } = totals();
      if (mb !== null) rss.push({ t: (now - t0) / 1000, mb });
      log(
        `  t=${((now - t0) / 1000).toFixed(0).padStart(4)} s  rss ${mb?.toFixed(0) ?? 'gone'} MB  requests ${n}  (${((n - lastN) / ((now - lastT) / 1000)).toFixed(0)}/s)  unintended errors ${err}`,
      );
      lastN = n;
      lastT = now;
    }, o.every * 1000);

    const client = async () => {
      while (performance.now() < deadline && exitedEarly === null) {
        const kind = chooseKind();
        await one(plan(kind, base, all), stats.get(kind)!);
      }
    };
    await Promise.all(Array.from({ length: o.clients }, client));
    clearInterval(sampler);
    const seconds = (performance.now() - t0) / 1000;
    const end = rssMb(pid);
    if (end !== null) rss.push({ t: seconds, mb: end });

    // Still whole after the load?
    let health = 'no answer';
    try {
      const h = await fetch(`${base}/healthz`);
      health = `${h.status} ${JSON.stringify(((await h.json()) as { index?: unknown }).index)}`;
    } catch (e) {
      health = `no answer (${String((e as Error).message)})`;
    }

    log('');
    log(`soak: ${seconds.toFixed(0)} s, ${o.clients} clients`);
    log(
      `  ${'kind'.padEnd(12)} ${'req/s'.padStart(7)} ${'ok'.padStart(7)} ${'aborted'.padStart(8)} ${'4xx'.padStart(5)} ${'5xx'.padStart(5)} ${'conn'.padStart(5)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'MB/s'.padStart(7)}`,
    );
    let unintended = 0;
    let requests = 0;
    for (const [kind, s] of stats) {
      const n = s.ok + s.aborted + s.http4xx + s.http5xx + s.conn;
      requests += n;
      unintended += s.http4xx + s.http5xx + s.conn;
      log(
        `  ${kind.padEnd(12)} ${(n / seconds).toFixed(1).padStart(7)} ${String(s.ok).padStart(7)} ${String(s.aborted).padStart(8)} ${String(s.http4xx).padStart(5)} ${String(s.http5xx).padStart(5)} ${String(s.conn).padStart(5)} ${percentile(s.ms, 0.5).toFixed(1).padStart(8)} ${percentile(s.ms, 0.99).toFixed(1).padStart(8)} ${(s.bytes / seconds / 1e6).toFixed(2).padStart(7)}`,
      );
    }
    log(
      `  ${'all'.padEnd(12)} ${(requests / seconds).toFixed(1).padStart(7)}   (intended aborts are not errors; unintended errors: ${unintended})`,
    );
    for (const [kind, s] of stats) for (const ex of s.examples) log(`  ! ${kind}: ${ex}`);

    const series = rss.map((p) => `${p.t.toFixed(0)}s:${p.mb.toFixed(0)}`).join(' ');
    log(`  RSS (MB) ${series}`);
    const third = Math.floor(rss.length / 3);
    const middle = rss.slice(third, 2 * third).map((p) => p.mb);
    const last = rss.slice(2 * third).map((p) => p.mb);
    let leveled = false;
    if (middle.length > 0 && last.length > 0) {
      const mMax = Math.max(...middle);
      const lMax = Math.max(...last);
      leveled = lMax <= mMax * 1.1;
      log(
        `  RSS verdict: ${leveled ? 'levels off' : 'still growing'} (peak of the last third ${lMax.toFixed(0)} MB vs the middle third ${mMax.toFixed(0)} MB, ${(((lMax - mMax) / mMax) * 100).toFixed(1)}%; bound +10%)`,
      );
    } else {
      log('  RSS verdict: too few samples (run longer or sample more often)');
    }
    log(`  /healthz after the load: ${health}`);
    const errorLines = existsSync(LOG_PATH)
      ? readFileSync(LOG_PATH, 'utf8')
          .split('\n')
          .filter((l) => /"level":(50|60)/.test(l)).length
      : 0;
    log(`  server log ${LOG_PATH}: ${errorLines} error lines`);
    if (exitedEarly) log(`  ! ${exitedEarly}`);
    await stop();
    const failed = unintended > 0 || exitedEarly !== null || !health.startsWith('200');
    log(`soak: ${failed ? 'FAILED' : 'passed'}${leveled ? '' : ' (RSS did not level off: look for a leak)'}`);
    return failed ? 1 : 0;
  } catch (e) {
    log(`soak: ${(e as Error).message}`);
    await stop();
    return 1;
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`soak: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
