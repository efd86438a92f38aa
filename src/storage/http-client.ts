/**
 * One HTTP(S) request with the store's rules: a keep-alive pool bounded per host, a timeout per
 * attempt, retries with jittered exponential back-off for 5xx, 429/503 (S3's SlowDown), resets and
 * bodies cut short, all within one overall budget. Never throws a URL or a header in its messages
 * (a presigned query string or a signature would leak): only the operation and what went wrong.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { StoreObserver } from './store.js';
import { storeUnavailable } from './store.js';

export interface ClientSettings {
  /** One attempt (connect to last byte). */
  timeoutMs: number;
  /** Attempts after the first. */
  retries: number;
  /** All attempts of one call together, back-off included. */
  budgetMs: number;
  /** Open connections per host. */
  maxSockets: number;
}

export interface Request {
  op: string;
  method: 'GET' | 'HEAD';
  url: URL;
  /** Called per attempt (a signature carries the time). */
  headers: () => Record<string, string>;
  /** A body larger than this is refused (not retried). */
  maxBytes: number;
}

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** Base of the back-off: 50, 100, 200 ms ... each times a random factor in [0.5, 1.5). */
const BACKOFF_BASE_MS = 50;

class Retryable extends Error {}
class TooLarge extends Error {}

export function createHttpClient(settings: ClientSettings, observer: StoreObserver) {
  const agents = {
    'http:': new http.Agent({ keepAlive: true, maxSockets: settings.maxSockets }),
    'https:': new https.Agent({ keepAlive: true, maxSockets: settings.maxSockets }),
  };
  const attempt = (req: Request, deadline: number): Promise<Answer> =>
    new Promise((resolve, reject) => {
      const t0 = performance.now();
      const timeout = Math.max(1, Math.min(settings.timeoutMs, deadline - Date.now()));
      const agent = req.url.protocol === 'https:' ? agents['https:'] : agents['http:'];
      const mod = req.url.protocol === 'https:' ? https : http;
      let settled = false;
      const fail = (e: Error) => {
        if (settled) return;
        settled = true;
        observer.request(req.op, 'error', (performance.now() - t0) / 1000, 0);
        r.destroy();
        reject(e);
      };
      const r = mod.request(
        req.url,
        { method: req.method, headers: req.headers(), agent },
        (res: http.IncomingMessage) => {
          const status = res.statusCode ?? 0;
          const chunks: Buffer[] = [];
          let got = 0;
          res.on('data', (c: Buffer) => {
            got += c.length;
            if (got > req.maxBytes) fail(new TooLarge(`${req.op}: the answer is larger than ${req.maxBytes} bytes`));
            else chunks.push(c);
          });
          res.on('aborted', () => fail(new Retryable('connection reset during the body')));
          res.on('error', () => fail(new Retryable('connection reset during the body')));
          res.on('end', () => {
            if (settled) return;
            const body = Buffer.concat(chunks);
            const declared = Number(res.headers['content-length']);
            if (req.method !== 'HEAD' && Number.isFinite(declared) && declared !== body.length)
              return fail(new Retryable(`body cut short (${body.length} of ${declared} bytes)`));
            if (status >= 500 || status === 429) return fail(new Retryable(`status ${status}`));
            settled = true;
            observer.request(req.op, 'ok', (performance.now() - t0) / 1000, body.length);
            resolve({ status, headers: res.headers, body });
          });
        },
      );
      r.setTimeout(timeout, () => fail(new Retryable(`no answer within ${timeout} ms`)));
      r.on('error', (e: NodeJS.ErrnoException) => fail(new Retryable(e.code ?? 'connection error')));
      r.end();
    });

  return {
    async send(req: Request): Promise<Answer> {
      const deadline = Date.now() + settings.budgetMs;
      let last = '';
      for (let i = 0; i <= settings.retries; i++) {
        if (i > 0) {
          observer.retry(req.op, last);
          const wait = BACKOFF_BASE_MS * 2 ** (i - 1) * (0.5 + Math.random());
          if (Date.now() + wait >= deadline) break;
          await new Promise((r) => setTimeout(r, wait));
        }
        try {
          return await attempt(req, deadline);
        } catch (e) {
          // A server that ignores Range (or an object larger than allowed): no retry will change it.
          if (e instanceof TooLarge) throw storeUnavailable((e as Error).message);
          last = (e as Error).message;
          if (Date.now() >= deadline) break;
        }
      }
      throw storeUnavailable(`${req.op} failed (${last})`);
    },
    close() {
      agents['http:'].destroy();
      agents['https:'].destroy();
    },
  };
}

export type HttpClient = ReturnType<typeof createHttpClient>;
