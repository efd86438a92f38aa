/**
 * The byte-source layer under the slide, label and manifest readers: one interface for a local
 * directory, a plain HTTP(S) server that honours Range, and an S3 bucket. Keys are the dataset's
 * relative paths (`slides/tumor_001.tif`), never a URL or a path from a request.
 */
import { AppError } from '../errors.js';

export interface ObjectInfo {
  /** Relative to the dataset root, with `/` separators. */
  key: string;
  size: number;
  /** The object's ETag as the store gives it (quotes kept); null where the store has none. */
  etag: string | null;
  lastModifiedMs: number;
}

export interface ByteRange {
  offset: number;
  length: number;
}

/** What a store reports per request, for /metrics (operation: head, get, range, list). */
export interface StoreObserver {
  request(op: string, outcome: 'ok' | 'error', seconds: number, bytes: number): void;
  retry(op: string, reason: string): void;
  cache(op: string, hit: boolean): void;
}

export interface ObjectStore {
  readonly kind: 'local' | 'http' | 's3';
  /** For logs and messages: the location without credentials or query strings. */
  readonly label: string;
  /** The object's size and identity, or null when there is none. */
  stat(key: string): Promise<ObjectInfo | null>;
  /** Every object under `dir` (recursively), keys relative to the dataset root. */
  list(dir: string): Promise<ObjectInfo[]>;
  /** A whole small object (manifest, label file), refused above `maxBytes`; null when absent. */
  get(key: string, maxBytes: number): Promise<Buffer | null>;
  /**
   * Bytes [offset, offset + length) of an object. With `etag`, a store that sees another version
   * of the object refuses (SLIDE_CHANGED) rather than mixing bytes of two versions.
   */
  read(key: string, range: ByteRange, etag: string | null): Promise<Buffer>;
  close(): void;
}

/** Retry-After of a store failure: long enough for a throttled store to recover, short for a client. */
export const STORE_RETRY_AFTER_S = 5;

export function storeUnavailable(what: string): AppError {
  return new AppError(503, 'STORE_UNAVAILABLE', `the object store did not answer in time: ${what}`, {
    'Retry-After': String(STORE_RETRY_AFTER_S),
  });
}

export function objectChanged(key: string): AppError {
  return new AppError(
    503,
    'SLIDE_CHANGED',
    `the object ${key} changed in the store after it was indexed (another ETag): re-ingest to serve the new version`,
  );
}

export const noObserver: StoreObserver = { request() {}, retry() {}, cache() {} };
