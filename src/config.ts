/**
 * The only reader of process.env. Every setting: explicit option ?? environment ?? named default,
 * and a bad value fails at boot with the variable's name.
 */
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseKeyList } from './auth/keys.js';
import { isRemote, parseDataLocation } from './storage/location.js';
import type { RemoteSettings } from './storage/open.js';

export interface Config {
  port: number;
  host: string;
  /** The dataset root; null = the generated demo dataset under `demoDir`. */
  dataDir: string | null;
  demoDir: string;
  demoSeed: number;
  indexPath: string;
  /** Stored splits (their own SQLite file: the index is replaced by each ingest); null = beside the index. */
  splitsPath: string | null;
  /** Run an (incremental) ingest at start before serving. */
  ingestOnStart: boolean;
  logLevel: string;
  /** Longest side of a thumbnail, in pixels. */
  thumbnailMaxSize: number;
  /** Byte budgets of the in-memory caches. */
  tileCacheBytes: number;
  /** Whole decoded slide tiles kept for overlapping reads (0 = off, the default). */
  decodedTileCacheBytes: number;
  /** Whole decoded tiles of the coarse levels (downsample >= 4), kept from their first use (0 = off). */
  coarseTileCacheBytes: number;
  labelCacheBytes: number;
  /** Open slide handles kept (each holds a file descriptor and its tile index). */
  slideHandles: number;
  /** Decode JPEG regions with the native region decoder when it is built (libvips otherwise). */
  nativeJpeg: boolean;
  corsOrigin: string;
  /** Largest width x height of one region request. */
  maxRegionPixels: number;
  /** Largest level 0 (width x height) a slide may have to be indexed. */
  maxSlidePixels: number;
  /** Largest JSON request body. */
  maxBodyBytes: number;
  /** Pixel renders running at once, and waiting; beyond both, 503 with Retry-After. */
  maxConcurrentRenders: number;
  maxQueuedRenders: number;
  /** Time budget of one request (streams that have started are not cut). */
  requestTimeoutMs: number;
  /** Most samples one /batches request (one shard) may stream. */
  maxBatchSamples: number;
  /** Most descriptors one /samples request (one shard) may draw. */
  maxSamples: number;
  /** Most vertices of a region polygon in /samples and /batches (tested for every candidate patch). */
  maxRegionVertices: number;
  /** Most cells of one region.near distance field (label raster pooled until it fits). */
  nearMaxCells: number;
  /** Bytes of region.near distance fields and band cells kept between requests (half each). */
  nearCacheBytes: number;
  /** Most rasterising work (rasterWork units) one vector label file may take at ingest; refused above. */
  maxRasterWork: number;
  /** SHA-256 digests of API keys; none = open service. */
  apiKeys: string[];
  adminApiKeys: string[];
  revokedApiKeys: string[];
  /** Processes serving requests (node's cluster, a primary forks them); 1 = one process, as before. */
  workers: number;
  /** How long a stop waits for requests in flight. */
  drainMs: number;
  /** How long after SIGTERM the service keeps accepting (with /readyz false) before it stops listening. */
  readinessGraceMs: number;
  /** Reading DATA_DIR from S3 or HTTP(S): cache, timeouts, retries, connections, credentials. */
  remote: RemoteSettings;
}

/** 8080: the port the README and the Dockerfile document. */
const DEFAULT_PORT = 8080;
/** Largest thumbnail edge: enough for a slide list, small enough to render in well under a request's time budget. */
const DEFAULT_THUMBNAIL_MAX = 2048;
/** Rendered-tile cache: ~4,000 JPEG tiles of 512 px. */
const DEFAULT_TILE_CACHE_BYTES = 256 * 1024 * 1024;
/**
 * Decoded slide tiles, off by default: it pays where reads overlap (sliding-window patches, a
 * viewer panning over 254/1 tiles) but costs random reads, the service's main load. The README's
 * benchmark section and `npm run bench -- cache` give the measured trade-off.
 */
const DEFAULT_DECODED_TILE_CACHE_BYTES = 0;
/**
 * Decoded tiles of the coarse levels, on by default: a coarse stored tile covers 16-256x the
 * slide of a level-0 one, so patches read at 1-4 um/px (the context scales of a multi-scale
 * sample) keep coming back to it; 128 MiB is ~170 tiles of 512 px, a few slides' tissue at level 4.
 */
const DEFAULT_COARSE_TILE_CACHE_BYTES = 128 * 1024 * 1024;
/** Decoded label tiles: 256x256 bytes each, so ~2,000 tiles. */
const DEFAULT_LABEL_CACHE_BYTES = 128 * 1024 * 1024;
/** 4096 x 4096: a large training patch, 48 MB of RGB at most per request. */
const DEFAULT_MAX_REGION_PIXELS = 4096 * 4096;
/**
 * ~3x the largest Camelyon16 level 0 (97,792 x 221,184 = 21.6 Gpx): real slides pass with room to
 * spare, while the label raster and statistics a slide costs at ingest, which grow with it, stay bounded.
 */
export const DEFAULT_MAX_SLIDE_PIXELS = 2 ** 36;
/** Sample requests are small; a region polygon of 100k vertices fits in ~2 MB of JSON. */
const DEFAULT_MAX_BODY_BYTES = 2 * 1024 * 1024;
/** Two renders per core keep both cores busy while one waits on I/O; more only adds latency. */
const DEFAULT_MAX_RENDERS = 4;
/** A short queue absorbs a viewer's burst of tile requests; a longer one would only hide overload. */
const DEFAULT_MAX_QUEUED = 64;
/** A tile or patch renders in milliseconds; 30 s means something is wrong. */
const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
/** 10,000 patches of 256 px is ~300 MB of JPEG: a few minutes of a training job's input. */
const DEFAULT_MAX_BATCH_SAMPLES = 10_000;
/** A detailed hand-drawn region has thousands of vertices; each candidate patch is tested against it. */
const DEFAULT_MAX_REGION_VERTICES = 100_000;
/** 4 Mi cells: one distance transform under ~0.3 s and 16 MiB, ~31 um cells (44 um error) on a Camelyon16 slide. */
export const DEFAULT_NEAR_MAX_CELLS = 1 << 22;
/**
 * 256 MiB: fields of the full demo for three sets of classes (36 MiB each; at 128 MiB two sets
 * evicted each other, rebuilding a field per request), or ~24 Camelyon16-size slides' (5 MiB each).
 */
export const DEFAULT_NEAR_CACHE_BYTES = 256 << 20;
/**
 * Rasterising work one vector label file may take (edges, edge-row toggles, bounding-box pixels):
 * ten full Camelyon16 label rasters (97,792 x 221,184 at downsample 4 is 1.35e9 pixels) leaves
 * room for several slide-sized tissue shapes, while a hostile file is refused, not run for hours.
 */
export const DEFAULT_MAX_RASTER_WORK = 13_500_000_000;
/** A few epochs' worth of descriptors per request keeps it short; larger epochs are asked for shard by shard. */
const DEFAULT_MAX_SAMPLES = 20_000;
/** Kubernetes waits 30 s by default before SIGKILL; finish well within it. */
const DEFAULT_DRAIN_MS = 10_000;
/** Long enough for a load balancer polling /readyz every second to notice, short enough for a quick stop. */
const DEFAULT_READINESS_GRACE_MS = 2_000;
/** Far above any machine's cores; a typo (WORKERS=10000) fails at start instead of forking thousands. */
const MAX_WORKERS = 1024;
/** Open slides: far more than a viewer session touches, far fewer than the fd limit. */
const DEFAULT_SLIDE_HANDLES = 64;
/** Recently read ranges of remote slides: ~4,000 stored 512 px JPEG tiles. */
const DEFAULT_REMOTE_CACHE_BYTES = 256 * 1024 * 1024;
/** One GET of a tile takes milliseconds; 5 s means the store is struggling: retry elsewhere in the pool. */
const DEFAULT_REMOTE_TIMEOUT_MS = 5_000;
/** Three retries (50-400 ms of jittered back-off) ride out S3's SlowDown and a dropped connection. */
const DEFAULT_REMOTE_RETRIES = 3;
/** All attempts of one read: well inside REQUEST_TIMEOUT_MS, so a failing store answers 503, not a timeout. */
const DEFAULT_REMOTE_BUDGET_MS = 15_000;
/** Keep-alive connections per store host: two renders per core each coalesce a few GETs at once. */
const DEFAULT_REMOTE_CONNECTIONS = 64;

export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  const cwd = process.cwd();
  const dataDir = env.DATA_DIR ? dataLocation(env.DATA_DIR) : null;
  const demoDir = resolve(env.DEMO_DIR ?? `${cwd}/var/demo`);
  return {
    port: int(env, 'PORT', DEFAULT_PORT, 0, 65535),
    host: env.HOST ?? '0.0.0.0',
    dataDir,
    demoDir,
    demoSeed: int(env, 'DEMO_SEED', 1, 0, 2 ** 31 - 1),
    indexPath: resolve(env.INDEX_PATH ?? `${cwd}/var/index.sqlite`),
    splitsPath: env.SPLITS_PATH ? resolve(env.SPLITS_PATH) : null,
    ingestOnStart: bool(env, 'INGEST_ON_START', true),
    logLevel: oneOf(env, 'LOG_LEVEL', 'info', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    thumbnailMaxSize: int(env, 'THUMBNAIL_MAX_SIZE', DEFAULT_THUMBNAIL_MAX, 16, 8192),
    tileCacheBytes: int(env, 'TILE_CACHE_BYTES', DEFAULT_TILE_CACHE_BYTES, 0, 2 ** 40),
    decodedTileCacheBytes: int(env, 'DECODED_TILE_CACHE_BYTES', DEFAULT_DECODED_TILE_CACHE_BYTES, 0, 2 ** 40),
    coarseTileCacheBytes: int(env, 'COARSE_TILE_CACHE_BYTES', DEFAULT_COARSE_TILE_CACHE_BYTES, 0, 2 ** 40),
    labelCacheBytes: int(env, 'LABEL_CACHE_BYTES', DEFAULT_LABEL_CACHE_BYTES, 0, 2 ** 40),
    slideHandles: int(env, 'SLIDE_HANDLES', DEFAULT_SLIDE_HANDLES, 1, 4096),
    nativeJpeg: bool(env, 'NATIVE_JPEG', true),
    corsOrigin: env.CORS_ORIGIN ?? '*',
    maxRegionPixels: int(env, 'MAX_REGION_PIXELS', DEFAULT_MAX_REGION_PIXELS, 1, 2 ** 28),
    maxSlidePixels: int(env, 'MAX_SLIDE_PIXELS', DEFAULT_MAX_SLIDE_PIXELS, 1, 2 ** 50),
    maxBodyBytes: int(env, 'MAX_BODY_BYTES', DEFAULT_MAX_BODY_BYTES, 1024, 64 * 1024 * 1024),
    maxConcurrentRenders: int(env, 'MAX_CONCURRENT_RENDERS', DEFAULT_MAX_RENDERS, 1, 1024),
    maxQueuedRenders: int(env, 'MAX_QUEUED_RENDERS', DEFAULT_MAX_QUEUED, 0, 100_000),
    requestTimeoutMs: int(env, 'REQUEST_TIMEOUT_MS', DEFAULT_REQUEST_TIMEOUT_MS, 100, 3_600_000),
    maxBatchSamples: int(env, 'MAX_BATCH_SAMPLES', DEFAULT_MAX_BATCH_SAMPLES, 1, 100_000),
    maxSamples: int(env, 'MAX_SAMPLES', DEFAULT_MAX_SAMPLES, 1, 100_000),
    maxRegionVertices: int(env, 'MAX_REGION_VERTICES', DEFAULT_MAX_REGION_VERTICES, 3, 10_000_000),
    nearMaxCells: int(env, 'NEAR_MAX_CELLS', DEFAULT_NEAR_MAX_CELLS, 1, 1 << 26),
    nearCacheBytes: int(env, 'NEAR_CACHE_BYTES', DEFAULT_NEAR_CACHE_BYTES, 0, 2 ** 40),
    maxRasterWork: int(env, 'MAX_RASTER_WORK', DEFAULT_MAX_RASTER_WORK, 1, Number.MAX_SAFE_INTEGER),
    apiKeys: parseKeyList('API_KEYS', env.API_KEYS),
    adminApiKeys: parseKeyList('ADMIN_API_KEYS', env.ADMIN_API_KEYS),
    revokedApiKeys: parseKeyList('REVOKED_API_KEYS', env.REVOKED_API_KEYS),
    // Every core this process may use (its CPU affinity, so taskset counts): one JS thread per worker.
    workers: int(env, 'WORKERS', Math.min(availableParallelism(), MAX_WORKERS), 1, MAX_WORKERS),
    drainMs: int(env, 'DRAIN_MS', DEFAULT_DRAIN_MS, 0, 600_000),
    readinessGraceMs: int(env, 'READINESS_GRACE_MS', DEFAULT_READINESS_GRACE_MS, 0, 600_000),
    remote: remoteSettings(env),
    ...overrides,
  };
}

/** The directory the service reads slides and labels from. */
export function datasetDir(c: Config): string {
  return c.dataDir ?? c.demoDir;
}

/** The splits file: SPLITS_PATH, else `splits.sqlite` beside the index (it survives every re-ingest). */
export function splitsPathOf(c: Config): string {
  return c.splitsPath ?? join(dirname(c.indexPath), 'splits.sqlite');
}

/** A directory (made absolute) or an s3:// or http(s):// location, checked here so a bad one fails at boot. */
function dataLocation(raw: string): string {
  if (!isRemote(raw)) return resolve(raw);
  parseDataLocation(raw);
  return raw;
}

function remoteSettings(env: NodeJS.ProcessEnv): RemoteSettings {
  const id = env.AWS_ACCESS_KEY_ID;
  const secret = env.AWS_SECRET_ACCESS_KEY;
  if (Boolean(id) !== Boolean(secret))
    throw new Error('config: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together');
  const endpoint = env.S3_ENDPOINT || null;
  if (endpoint && !/^https?:\/\/[^/]+/.test(endpoint))
    throw new Error('config: S3_ENDPOINT must be an http(s) URL such as http://127.0.0.1:9000');
  return {
    cacheBytes: int(env, 'REMOTE_CACHE_BYTES', DEFAULT_REMOTE_CACHE_BYTES, 0, 2 ** 40),
    timeoutMs: int(env, 'REMOTE_TIMEOUT_MS', DEFAULT_REMOTE_TIMEOUT_MS, 10, 600_000),
    retries: int(env, 'REMOTE_RETRIES', DEFAULT_REMOTE_RETRIES, 0, 20),
    budgetMs: int(env, 'REMOTE_BUDGET_MS', DEFAULT_REMOTE_BUDGET_MS, 10, 3_600_000),
    connections: int(env, 'REMOTE_CONNECTIONS', DEFAULT_REMOTE_CONNECTIONS, 1, 4096),
    // us-east-1: the region S3 signs for when none is named (and what most S3-compatible servers accept).
    region: env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1',
    endpoint,
    credentials:
      id && secret
        ? {
            accessKeyId: id,
            secretAccessKey: secret,
            ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
          }
        : null,
    readMode: oneOf(env, 'REMOTE_READ_MODE', 'coalesced', ['coalesced', 'blocks']) as RemoteSettings['readMode'],
  };
}

function int(env: NodeJS.ProcessEnv, name: string, def: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min || v > max)
    throw new Error(`config: ${name}=${raw} must be an integer from ${min} to ${max}`);
  return v;
}

function bool(env: NodeJS.ProcessEnv, name: string, def: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new Error(`config: ${name}=${raw} must be true or false`);
}

function oneOf(env: NodeJS.ProcessEnv, name: string, def: string, allowed: string[]): string {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  if (!allowed.includes(raw)) throw new Error(`config: ${name}=${raw} must be one of ${allowed.join(', ')}`);
  return raw;
}
