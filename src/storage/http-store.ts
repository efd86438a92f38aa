/**
 * Plain HTTP(S) with Range (nginx, a CDN). Listing uses nginx's JSON directory index
 * (`autoindex on; autoindex_format json;`): a server without one can still serve a dataset whose
 * manifest is read, but ingest needs the listing to find the slides.
 */
import type { HttpClient } from './http-client.js';
import { remoteStore } from './remote-store.js';
import { storeUnavailable, type ObjectInfo, type ObjectStore } from './store.js';

/** Directory depth walked at most, as the local scan. */
const MAX_DEPTH = 8;
/** A directory listing larger than this is refused (a Camelyon16 folder lists in ~50 KB). */
const MAX_LISTING_BYTES = 64 * 1024 * 1024;

interface AutoindexEntry {
  name: string;
  type: 'file' | 'directory' | 'other';
  mtime?: string;
  size?: number;
}

export function httpStore(base: string, client: HttpClient): ObjectStore {
  const baseUrl = new URL(base);
  const urlOf = (key: string) => new URL(key.split('/').map(encodeURIComponent).join('/'), baseUrl);
  const list = async (dir: string): Promise<ObjectInfo[]> => {
    const out: ObjectInfo[] = [];
    const walk = async (rel: string, depth: number): Promise<void> => {
      const url = new URL(rel.split('/').map(encodeURIComponent).join('/'), baseUrl);
      const a = await client.send({
        op: 'list',
        method: 'GET',
        url,
        headers: () => ({ Accept: 'application/json' }),
        maxBytes: MAX_LISTING_BYTES,
      });
      if (a.status === 404 || a.status === 403) return;
      if (a.status !== 200) throw storeUnavailable(`list answered ${a.status}`);
      let entries: AutoindexEntry[];
      try {
        entries = JSON.parse(a.body.toString('utf8')) as AutoindexEntry[];
        if (!Array.isArray(entries)) throw new Error('not a list');
      } catch {
        throw storeUnavailable('the server gives no JSON directory listing (nginx: autoindex_format json)');
      }
      for (const e of entries) {
        if (e.name.startsWith('.')) continue;
        if (e.type === 'directory' && depth < MAX_DEPTH) await walk(`${rel}${e.name}/`, depth + 1);
        else if (e.type === 'file') {
          const lm = e.mtime ? Date.parse(e.mtime) : NaN;
          out.push({ key: rel + e.name, size: e.size ?? 0, etag: null, lastModifiedMs: Number.isFinite(lm) ? lm : 0 });
        }
      }
    };
    await walk(dir === '' || dir === '.' ? '' : `${dir.replace(/\/+$/, '')}/`, 0);
    return out;
  };
  return remoteStore({
    kind: 'http',
    label: baseUrl.origin + baseUrl.pathname,
    client,
    urlOf,
    headers: (_m, _u, extra) => extra,
    list,
  });
}
