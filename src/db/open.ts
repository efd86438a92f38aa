/**
 * Opening the index. The service opens it read-only; only the indexer writes, and it writes a
 * new file that replaces the old one (src/indexer/publish.ts), so readers never see a half-done
 * ingest.
 */
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { AppError } from '../errors.js';
import { SCHEMA_VERSION, migrate } from './migrate.js';

export type Db = Database.Database;

/** How much of the index the service maps into memory. */
const INDEX_MMAP_BYTES = 2 ** 31 - 2 ** 16;

export function openIndexReadOnly(path: string): Db {
  if (!existsSync(path)) throw new AppError(503, 'INDEX_MISSING', 'no index yet: run the ingest first');
  let db: Db | undefined;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
    db.pragma('query_only = ON');
    // Label tiles are read by point lookups, thousands per sampling request: through a memory
    // map they cost no read() per page (14 -> 10 us a lookup over a 640 MB index). Mapped pages
    // are the page cache's, shared and reclaimable; SQLite caps the map at 2 GB.
    db.pragma(`mmap_size = ${INDEX_MMAP_BYTES}`);
    const version = db.pragma('user_version', { simple: true }) as number;
    checkVersion(version);
    const hasSlides = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'slides'").get();
    if (!hasSlides)
      throw new AppError(503, 'INDEX_FOREIGN', 'the index file is a SQLite database but not one of this service');
  } catch (e) {
    // A refused file must not stay open: callers may retry, and each try would leak a descriptor.
    db?.close();
    if (e instanceof AppError) throw e;
    throw new AppError(503, 'INDEX_UNREADABLE', `the index file cannot be opened: ${(e as Error).message}`);
  }
  return db;
}

/** Read-write, for the indexer: WAL while it builds, migrations applied. */
export function openIndexForWrite(path: string): Db {
  const db = new Database(path);
  try {
    // Refuse a newer schema before switching its journal mode: a refused file stays as it was.
    checkVersion(db.pragma('user_version', { simple: true }) as number);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    migrate(db);
  } catch (e) {
    db.close();
    throw e;
  }
  return db;
}

function checkVersion(version: number): void {
  if (version > SCHEMA_VERSION) {
    throw new AppError(
      503,
      'INDEX_FROM_THE_FUTURE',
      `the index has schema version ${version}, newer than this service's ${SCHEMA_VERSION}: upgrade the service or re-ingest`,
    );
  }
}
