/**
 * The app under hostile input: the core test dataset behind createApp (in-process, supertest),
 * with a logger that keeps the service's error lines, so a 5xx comes with its stack. Also the
 * one request helper of the fuzz tests (raw path, any method, any body, a bounded wait) and the
 * check every answer must pass (2xx with a valid body, or a 4xx problem document; never a 5xx,
 * a hang, or a leak of paths, stacks or SQL).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { pino } from 'pino';
import request from 'supertest';
import { createApp } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import { createIndexHandle } from '../../src/db/handle.js';
import { createGeneration } from '../../src/generation.js';
import { imagingCapabilities } from '../../src/imaging/sharp.js';
import { ingest } from '../../src/indexer/ingest.js';
import { binary } from './app-fixture.js';

export type App = ReturnType<typeof createApp>;

export interface FuzzServed {
  dir: string;
  dataDir: string;
  indexPath: string;
  /** The service's log lines at level error (JSON, one per line), newest last. */
  errors: string[];
  app(overrides?: Partial<Config>): Promise<App>;
  cleanup(): void;
}

/** Settings of the fuzzed app: small caches, as serveIndex; every other limit at its default. */
export const FUZZ_CONFIG: Partial<Config> = {
  slideHandles: 8,
  tileCacheBytes: 32 << 20,

  labelCacheBytes: 64 << 20,
  maxRegionPixels: 2048 * 2048,
  maxBodyBytes: 1 << 20,
};

export async function serveFuzz(): Promise<FuzzServed> {
  const { buildDataset } = await import('./core-dataset.js');
  const dir = mkdtempSync(join(tmpdir(), 'served-fuzz-'));
  const dataDir = join(dir, 'data');
  const indexPath = join(dir, 'index', 'index.sqlite');
  await buildDataset(dataDir);
  await ingest({ dataDir, indexPath });
  const imaging = await imagingCapabilities();
  const errors: string[] = [];
  const log = pino({ level: 'error' }, { write: (line: string) => void errors.push(line) });
  return {
    dir,
    dataDir,
    indexPath,
    errors,
    async app(overrides = {}) {
      const config = loadConfig({}, { dataDir, indexPath, ...FUZZ_CONFIG, ...overrides });
      const index = createIndexHandle(indexPath, (db) => createGeneration(db, dataDir, config.labelCacheBytes));
      return createApp({ config, index, log, imaging, ingest: () => ingest({ dataDir, indexPath }) });
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export type Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS';

export interface Sent {
  method: Method;
  /** Path and query exactly as put on the wire (already percent-encoded where needed). */
  path: string;
  headers?: Record<string, string>;
  /** Sent as is: a string or bytes (no serialisation by the client). */
  body?: string | Buffer;
  /** Milliseconds the whole answer may take; 5 s unless the endpoint streams. */
  deadlineMs?: number;
  /** Content types a 2xx may have here (anything the service serves, when absent). */
  ok?: RegExp;
  /** The app runs with deliberately tight limits: a 503 BUSY or TIMEOUT problem is a fair answer. */
  tight?: boolean;
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  ms: number;
  /** Set when no HTTP answer came (timeout, reset): the request failed as a whole. */
  error?: string;
}

export const ANSWER_BOUND_MS = 5_000;

export async function hit(app: App, r: Sent): Promise<Answer> {
  const t0 = performance.now();
  const deadline = r.deadlineMs ?? ANSWER_BOUND_MS;
  const m = r.method.toLowerCase() as Lowercase<Method>;
  let req = request(app)[m](r.path);
  for (const [k, v] of Object.entries(r.headers ?? {})) req = req.set(k, v);
  // Bytes are sent as they are; a string goes as bytes too, so the client never re-encodes it.
  // (and the identity serializer keeps superagent from JSON-encoding a Buffer under a JSON type).
  if (r.body !== undefined)
    req = req
      .serialize((b: unknown) => b as string)
      .send(Buffer.isBuffer(r.body) ? r.body : Buffer.from(r.body, 'utf8'));
  req = req
    .buffer(true)
    .parse(binary)
    .timeout({ response: deadline, deadline: deadline + 1_000 });
  try {
    const res = await req;
    return {
      status: res.status,
      headers: res.headers as Answer['headers'],
      body: Buffer.isBuffer(res.body) ? res.body : Buffer.alloc(0),
      ms: performance.now() - t0,
    };
  } catch (e) {
    const err = e as { message?: string; code?: string; timeout?: number; response?: request.Response };
    if (err.response)
      return {
        status: err.response.status,
        headers: err.response.headers as Answer['headers'],
        body: Buffer.isBuffer(err.response.body) ? err.response.body : Buffer.alloc(0),
        ms: performance.now() - t0,
      };
    return {
      status: 0,
      headers: {},
      body: Buffer.alloc(0),
      ms: performance.now() - t0,
      error: `${err.code ?? ''} ${err.message ?? String(e)}`.trim(),
    };
  }
}

/** Every content type the service answers 2xx with, somewhere. */
export const ANY_OK =
  /^(application\/(json|xml|x-tar|octet-stream|x-npy|yaml|javascript)|image\/(jpeg|png|webp)|text\/(plain|html|css|javascript))(;|$)/;
export const JSON_OK = /^application\/json(;|$)/;
export const IMAGE_OK = /^image\/(jpeg|png|webp)(;|$)/;
export const PNG_OK = /^image\/png(;|$)/;
export const XML_OK = /^application\/xml(;|$)/;

export interface LeakContext {
  /** Strings the service must never show a client (the data and index directories). */
  secrets: string[];
}

/** Patterns of internals: a stack frame, a source position, SQL or the database's name. */
const INTERNALS: Array<[string, RegExp]> = [
  ['a stack frame', /\bat (?:[\w$.<>[\] ]+ )?\(?(?:\/|file:|node:)/],
  ['a source position', /\.(?:ts|js|mjs|cjs):\d+/],
  ['node_modules', /node_modules/],
  ['SQL', /\bSELECT\b|\bINSERT INTO\b|\bFROM [a-z_]+ WHERE\b/i],
  ['the database', /sqlite/i],
  ['an absolute path', /(?:^|[\s"'(=])\/(?:tmp|home|work|var|usr|etc|root|proc)\/[\w.-]+/],
];

/**
 * Why the answer breaks the contract, or null. A 2xx must have a content type the endpoint
 * serves and a body of that type; a 4xx must be a problem document whose `status` is the HTTP
 * status; nothing may be 5xx, late or missing; no problem or JSON body may name a path, show a
 * stack or SQL (unless the request itself carried that text, which an error may echo).
 */
export function violation(r: Sent, a: Answer, ctx: LeakContext): string | null {
  const deadline = r.deadlineMs ?? ANSWER_BOUND_MS;
  if (a.error) return `no answer: ${a.error} after ${Math.round(a.ms)} ms`;
  if (a.ms > deadline) return `answered after ${Math.round(a.ms)} ms (bound ${deadline} ms)`;
  const type = String(a.headers['content-type'] ?? '');
  const head = r.method === 'HEAD';
  // Node's HTTP parser refuses a request head over its 16 KiB limit before the app sees it: 431, no body.
  const headBytes =
    r.path.length + Object.entries(r.headers ?? {}).reduce((n, [k, v]) => n + k.length + v.length + 4, 0);
  if (a.status === 431 && headBytes > 16_000 && a.body.length === 0) return null;
  if (a.status === 503 && r.tight) {
    const code = head ? 'BUSY' : (JSON.parse(a.body.toString('utf8') || '{}') as { code?: string }).code;
    if (code !== 'BUSY' && code !== 'TIMEOUT')
      return `503 ${code ?? ''} under tight limits: ${a.body.toString('utf8').slice(0, 300)}`;
    if (!a.headers['retry-after']) return `503 ${code} without Retry-After`;
    if (!/^application\/problem\+json(;|$)/.test(type)) return `503 with content type "${type}"`;
    return null;
  }
  if (a.status >= 500) return `status ${a.status}: ${a.body.toString('utf8').slice(0, 300)}`;
  if (a.status >= 200 && a.status < 300) {
    if (a.status === 204) return a.body.length === 0 ? null : '204 with a body';
    if (!(r.ok ?? ANY_OK).test(type)) return `2xx with content type "${type}"`;
    if (!head) {
      const bad = bodyProblem(type, a);
      if (bad) return `2xx ${type}: ${bad}`;
    }
  } else if (a.status === 304) {
    const inm = Object.entries(r.headers ?? {}).find(([k]) => k.toLowerCase() === 'if-none-match');
    if (!inm) return '304 to a request without If-None-Match';
    if (a.body.length > 0) return '304 with a body';
  } else if (a.status >= 300 && a.status < 400) {
    // Only express.static's directory redirect, and only to a path of this service.
    const loc = String(a.headers.location ?? '');
    if (a.status !== 301 || !/^\/(?![/\\])/.test(loc)) return `redirect ${a.status} to "${loc}"`;
  } else if (a.status >= 400 && a.status < 500) {
    if (!/^application\/problem\+json(;|$)/.test(type)) return `${a.status} with content type "${type}"`;
    if (!head) {
      let p: Record<string, unknown>;
      try {
        p = JSON.parse(a.body.toString('utf8')) as Record<string, unknown>;
      } catch {
        return `${a.status} problem body is not JSON: ${a.body.toString('utf8').slice(0, 200)}`;
      }
      for (const k of ['type', 'title', 'code', 'detail'] as const)
        if (typeof p[k] !== 'string' || p[k] === '')
          return `${a.status} problem without "${k}": ${JSON.stringify(p).slice(0, 300)}`;
      if (p.status !== a.status) return `problem status ${String(p.status)} under HTTP ${a.status}`;
      if (!/^[A-Z][A-Z0-9_]*$/.test(p.code as string)) return `problem code "${String(p.code)}" is not UPPER_SNAKE`;
    }
  } else {
    return `status ${a.status}`;
  }
  if (/json/.test(type)) return leak(r, a.body.toString('utf8'), ctx);
  return null;
}

function bodyProblem(type: string, a: Answer): string | null {
  const b = a.body;
  if (/json/.test(type)) {
    try {
      JSON.parse(b.toString('utf8'));
      return null;
    } catch {
      return 'body is not JSON';
    }
  }
  if (type.startsWith('image/jpeg')) return b.subarray(0, 3).toString('hex') === 'ffd8ff' ? null : 'not a JPEG';
  if (type.startsWith('image/png')) return b.subarray(0, 8).toString('hex') === '89504e470d0a1a0a' ? null : 'not a PNG';
  if (type.startsWith('image/webp'))
    return b.subarray(0, 4).toString('latin1') === 'RIFF' && b.subarray(8, 12).toString('latin1') === 'WEBP'
      ? null
      : 'not a WebP';
  if (type.startsWith('application/xml')) return b.subarray(0, 5).toString('utf8') === '<?xml' ? null : 'not XML';
  if (type.startsWith('application/x-npy'))
    return b.subarray(1, 6).toString('latin1') === 'NUMPY' ? null : 'not an .npy';
  if (type.startsWith('application/x-tar')) {
    // Entries start with a ustar header; an empty shard is just the end-of-archive blocks.
    const empty = b.length >= 1024 && b.every((x) => x === 0);
    return b.length % 512 === 0 && (empty || b.subarray(257, 262).toString('latin1') === 'ustar')
      ? null
      : `not a tar (${b.length} bytes)`;
  }
  if (type.startsWith('application/octet-stream')) {
    const shape = String(a.headers['x-array-shape'] ?? '');
    const n = shape.split(',').reduce((p, d) => p * Number(d), 1);
    return shape && n === b.length ? null : `raw body of ${b.length} bytes under X-Array-Shape "${shape}"`;
  }
  return null;
}

function leak(r: Sent, text: string, ctx: LeakContext): string | null {
  const asked = requestText(r);
  for (const s of ctx.secrets)
    if (text.includes(s) && !asked.includes(s)) return `body names "${s}": ${text.slice(0, 300)}`;
  for (const [what, re] of INTERNALS) {
    const m = re.exec(text);
    if (m && !asked.toLowerCase().includes(m[0].toLowerCase().trim()))
      return `body shows ${what} ("${m[0]}"): ${text.slice(0, 300)}`;
  }
  return null;
}

/** The request as text, raw and decoded, so an echo of the client's own input is not a leak. */
function requestText(r: Sent): string {
  const body = r.body === undefined ? '' : Buffer.isBuffer(r.body) ? r.body.toString('utf8') : r.body;
  let decoded: string;
  try {
    decoded = decodeURIComponent(r.path.replace(/\+/g, ' '));
  } catch {
    decoded = r.path.replace(/%([0-9a-f]{2})/gi, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
  }
  return `${r.path}\n${decoded}\n${body}`;
}

/** A short form of the request for failure messages (long paths and bodies cut). */
export function describeSent(r: Sent): string {
  const cut = (s: string, n: number) => (s.length > n ? `${s.slice(0, n)}... (${s.length} chars)` : s);
  const body =
    r.body === undefined ? '' : ` body ${cut(Buffer.isBuffer(r.body) ? `<${r.body.length} bytes>` : r.body, 200)}`;
  const headers =
    r.headers && Object.keys(r.headers).length > 0 ? ` headers ${cut(JSON.stringify(r.headers), 200)}` : '';
  return `${r.method} ${cut(r.path, 300)}${headers}${body}`;
}

/** `global.gc`, exposed at run time when the process was started without --expose-gc. */
export function exposeGc(): () => void {
  const g = globalThis as { gc?: () => void };
  if (typeof g.gc === 'function') return g.gc;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

export function memoryNow(gc: () => void): { rss: number; heapUsed: number; external: number } {
  for (let i = 0; i < 3; i++) gc();
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external };
}

export interface LoopWatch {
  /** Stops watching; the worst gap seen: its wall time, the process's CPU time in it, and the stall (the smaller). */
  stop(): { stallMs: number; wallMs: number; cpuMs: number; ticks: number };
}

/**
 * Watches the event loop with a timer every `periodMs`: a gap beyond the period is a stall. A gap
 * counts by the smaller of its wall time and the CPU time the process spent in it, so a process
 * the OS left waiting on a busy machine is not taken for a blocked loop, nor GC threads running
 * beside a live loop for a blocked one; a loop blocked by work shows in both.
 */
export function watchEventLoop(periodMs = 10): LoopWatch {
  let last = performance.now();
  let cpu = process.cpuUsage();
  let worst = { stallMs: 0, wallMs: 0, cpuMs: 0 };
  let ticks = 0;
  const note = () => {
    const now = performance.now();
    const used = process.cpuUsage(cpu);
    const wallMs = now - last - periodMs;
    const cpuMs = (used.user + used.system) / 1000 - periodMs;
    const stallMs = Math.max(0, Math.min(wallMs, cpuMs));
    if (stallMs > worst.stallMs) worst = { stallMs, wallMs, cpuMs };
    last = now;
    cpu = process.cpuUsage();
    ticks++;
  };
  const timer = setInterval(note, periodMs);
  return {
    stop() {
      note();
      clearInterval(timer);
      return { ...worst, ticks };
    },
  };
}
