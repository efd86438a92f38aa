/**
 * The service's view of the index: the published file, opened read-only, and re-opened when an
 * ingest renames a new file over it. Everything built on a database (prepared statements,
 * caches keyed by ETag) hangs off the current generation, so a swap never mixes two versions.
 */
import { statSync } from 'node:fs';
import { AppError } from '../errors.js';
import { openIndexReadOnly, type Db } from './open.js';

export interface IndexHandle<T> {
  /** The current generation, or a 503 problem while there is no usable index. */
  current(): T;
  /** Why there is no index, or null when there is one. */
  status(): { ready: boolean; reason: string | null };
  close(): void;
}

/** How often, at most, a request checks whether the file was replaced. */
const CHECK_INTERVAL_MS = 1000;

export function createIndexHandle<T>(path: string, build: (db: Db) => T, onSwap?: (db: Db) => void): IndexHandle<T> {
  let db: Db | null = null;
  let value: T | null = null;
  let inode = -1;
  let checkedAt = 0;
  let failure: AppError | null = null;

  const refresh = () => {
    let ino: number;
    try {
      ino = statSync(path).ino;
    } catch {
      if (!db) failure = new AppError(503, 'INDEX_MISSING', 'no index yet: run the ingest first');
      return;
    }
    if (ino === inode && db) return;
    try {
      const next = openIndexReadOnly(path);
      const old = db;
      db = next;
      value = build(next);
      inode = ino;
      failure = null;
      onSwap?.(next);
      // Requests already running hold their own references to statements of the old file.
      if (old) setTimeout(() => old.close(), 30_000).unref();
    } catch (e) {
      failure = e instanceof AppError ? e : new AppError(503, 'INDEX_UNREADABLE', 'the index cannot be opened');
      inode = ino;
    }
  };

  return {
    current() {
      const now = Date.now();
      if (now - checkedAt >= CHECK_INTERVAL_MS || !value) {
        checkedAt = now;
        refresh();
      }
      if (!value) throw failure ?? new AppError(503, 'INDEX_MISSING', 'no index yet');
      return value;
    },
    status() {
      try {
        this.current();
        return { ready: true, reason: null };
      } catch (e) {
        return { ready: false, reason: e instanceof AppError ? e.detail : 'index unavailable' };
      }
    },
    close() {
      db?.close();
      db = null;
      value = null;
    },
  };
}
