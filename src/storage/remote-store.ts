/**
 * What the HTTP and S3 stores share: HEAD for stat, ranged GET (206) with the object's ETag
 * checked (If-Match, and the answer's own ETag), whole GETs for small objects. Only listing and
 * request signing differ between them.
 */
import type { HttpClient } from './http-client.js';
import { objectChanged, storeUnavailable, type ByteRange, type ObjectInfo, type ObjectStore } from './store.js';

export interface RemoteParts {
  kind: 'http' | 's3';
  label: string;
  client: HttpClient;
  /** The URL of an object key. */
  urlOf(key: string): URL;
  /** Headers to send (a signature, where the store needs one) for a GET or HEAD of `url`. */
  headers(method: 'GET' | 'HEAD', url: URL, extra: Record<string, string>): Record<string, string>;
  list(dir: string): Promise<ObjectInfo[]>;
}

/** Answers to a HEAD carry no body; a ranged GET at most its range. */
const HEAD_MAX = 0;

export function remoteStore(p: RemoteParts): ObjectStore {
  const send = (op: string, method: 'GET' | 'HEAD', key: string, extra: Record<string, string>, maxBytes: number) => {
    const url = p.urlOf(key);
    return p.client.send({ op, method, url, headers: () => p.headers(method, url, extra), maxBytes });
  };
  return {
    kind: p.kind,
    label: p.label,
    async stat(key) {
      const a = await send('head', 'HEAD', key, {}, HEAD_MAX);
      if (a.status === 404 || a.status === 403) return null;
      if (a.status !== 200) throw storeUnavailable(`head answered ${a.status}`);
      return infoOf(key, a.headers);
    },
    list: (dir) => p.list(dir),
    async get(key, maxBytes) {
      const a = await send('get', 'GET', key, {}, maxBytes);
      if (a.status === 404 || a.status === 403) return null;
      if (a.status !== 200) throw storeUnavailable(`get answered ${a.status}`);
      return a.body;
    },
    async read(key, range: ByteRange, etag) {
      if (range.length === 0) return Buffer.alloc(0);
      const extra: Record<string, string> = { Range: `bytes=${range.offset}-${range.offset + range.length - 1}` };
      if (etag) extra['If-Match'] = etag;
      const a = await send('range', 'GET', key, extra, range.length);
      if (a.status === 412) throw objectChanged(key);
      if (a.status === 404) throw objectChanged(key);
      if (a.status !== 206 && !(a.status === 200 && range.offset === 0))
        throw storeUnavailable(`range answered ${a.status}`);
      const got = a.headers.etag;
      if (etag && got && weakless(got) !== weakless(etag)) throw objectChanged(key);
      if (a.body.length !== range.length)
        throw storeUnavailable(`range gave ${a.body.length} of ${range.length} bytes`);
      return a.body;
    },
    close: () => p.client.close(),
  };
}

export function infoOf(key: string, h: Record<string, string | string[] | undefined>): ObjectInfo {
  const etag = typeof h.etag === 'string' ? h.etag : null;
  const lm = typeof h['last-modified'] === 'string' ? Date.parse(h['last-modified']) : NaN;
  return { key, size: Number(h['content-length'] ?? 0), etag, lastModifiedMs: Number.isFinite(lm) ? lm : 0 };
}

/** Compression proxies weaken ETags (W/"x"); the bytes of a range are still those of "x". */
function weakless(etag: string): string {
  return etag.replace(/^W\//, '');
}
