/**
 * A local directory as a store: what the service always did, with the same calls (stat, readFile,
 * positioned reads). Slides keep their open file descriptor and synchronous preads (see
 * slides/file.ts): this store serves the manifest, label files and listings.
 */
import { openSync, closeSync, readSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { resolve, sep } from 'node:path';
import { objectChanged, type ObjectInfo, type ObjectStore } from './store.js';

export function localStore(dir: string): ObjectStore {
  const root = resolve(dir);
  const pathOf = (key: string) => {
    const p = resolve(root, key);
    // Keys come from listings and the index, never from requests; still, nothing outside the root.
    if (p !== root && !p.startsWith(root + sep)) throw new Error('key outside the data directory');
    return p;
  };
  const info = (key: string): ObjectInfo | null => {
    try {
      const st = statSync(pathOf(key));
      return st.isFile() ? { key, size: st.size, etag: null, lastModifiedMs: st.mtimeMs } : null;
    } catch {
      return null;
    }
  };
  return {
    kind: 'local',
    label: root,
    stat: async (key) => info(key),
    async list(d) {
      const out: ObjectInfo[] = [];
      const walk = (rel: string, depth: number) => {
        let entries;
        try {
          entries = readdirSync(pathOf(rel), { withFileTypes: true });
        } catch {
          return;
        }
        for (const e of entries) {
          if (e.name.startsWith('.')) continue;
          const k = rel === '' ? e.name : `${rel}/${e.name}`;
          if (e.isDirectory() && depth < 8) walk(k, depth + 1);
          else {
            const i = info(k);
            if (i) out.push(i);
          }
        }
      };
      walk(d === '.' ? '' : d.replace(/\/+$/, ''), 0);
      return out;
    },
    async get(key, maxBytes) {
      const i = info(key);
      if (!i) return null;
      if (i.size > maxBytes) throw new Error(`${key} is larger than ${maxBytes} bytes`);
      return readFileSync(pathOf(key));
    },
    async read(key, range) {
      const fd = openSync(pathOf(key), 'r');
      try {
        const buf = Buffer.allocUnsafe(range.length);
        const n = readSync(fd, buf, 0, range.length, range.offset);
        if (n < range.length) throw objectChanged(key);
        return buf;
      } finally {
        closeSync(fd);
      }
    },
    close() {},
  };
}
