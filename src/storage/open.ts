/**
 * Opens the store a DATA_DIR names, with its settings (config.ts: REMOTE_*, AWS_*, S3_ENDPOINT),
 * and the range cache slides are read through.
 */
import { createHttpClient } from './http-client.js';
import { httpStore } from './http-store.js';
import { localStore } from './local-store.js';
import { parseDataLocation } from './location.js';
import { createRangeCache, type RangeCache, type ReadMode } from './object-reader.js';
import { s3Store } from './s3-store.js';
import { noObserver, type ObjectStore, type StoreObserver } from './store.js';

export interface RemoteSettings {
  /** Bytes of recently read ranges kept (REMOTE_CACHE_BYTES). */
  cacheBytes: number;
  timeoutMs: number;
  retries: number;
  budgetMs: number;
  /** Keep-alive connections per host. */
  connections: number;
  region: string;
  endpoint: string | null;
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | null;
  /** 'blocks': the FUSE-like baseline (whole 1 MiB blocks, no coalescing), for the benchmark only. */
  readMode: ReadMode;
}

export interface Remote {
  store: ObjectStore;
  cache: RangeCache;
}

export function openStore(dataDir: string, s: RemoteSettings, observer: StoreObserver = noObserver): ObjectStore {
  const loc = parseDataLocation(dataDir);
  if (loc.kind === 'local') return localStore(loc.dir);
  const client = createHttpClient(
    { timeoutMs: s.timeoutMs, retries: s.retries, budgetMs: s.budgetMs, maxSockets: s.connections },
    observer,
  );
  if (loc.kind === 'http') return httpStore(loc.base, client);
  return s3Store(
    { bucket: loc.bucket, prefix: loc.prefix, region: s.region, endpoint: s.endpoint, credentials: s.credentials },
    client,
  );
}

/** The store and range cache of a remote DATA_DIR (null for a local one: slides keep their file descriptors). */
export function openRemote(dataDir: string, s: RemoteSettings, observer: StoreObserver = noObserver): Remote | null {
  if (parseDataLocation(dataDir).kind === 'local') return null;
  return { store: openStore(dataDir, s, observer), cache: createRangeCache(s.cacheBytes, observer, s.readMode) };
}
