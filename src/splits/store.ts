/**
 * Stored splits (SQL only): a small SQLite file of its own (config SPLITS_PATH), because the index
 * is replaced by every ingest and is read-only for the service. Each split keeps the dataset
 * version it was made on. Opened on first use, so a service whose splits file cannot be written
 * (a read-only volume) still serves everything else.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { AppError } from '../errors.js';
import type { Schemas } from '../http/types.js';

export type Split = Schemas['Split'];

export interface SplitStore {
  get(name: string): { split: Split; definition: string } | undefined;
  list(): Split[];
  /** Stores a new split; false when the name is taken. */
  insert(split: Split, definition: string): boolean;
  delete(name: string): boolean;
  close(): void;
}

const SCHEMA_VERSION = 1;
const SCHEMA = `CREATE TABLE IF NOT EXISTS splits (
  name            TEXT PRIMARY KEY,
  dataset_version TEXT NOT NULL,
  definition      TEXT NOT NULL,
  body            TEXT NOT NULL,
  created_at      TEXT NOT NULL
) STRICT`;

export function createSplitStore(path: string): SplitStore {
  let db: Database.Database | null = null;
  const open = () => {
    if (db) return db;
    try {
      mkdirSync(dirname(path), { recursive: true });
      const d = new Database(path);
      d.pragma('journal_mode = WAL');
      d.pragma('busy_timeout = 2000');
      const v = d.pragma('user_version', { simple: true }) as number;
      if (v > SCHEMA_VERSION) {
        d.close();
        throw new AppError(
          503,
          'SPLITS_FROM_THE_FUTURE',
          `the splits file has schema version ${v}, newer than this service's ${SCHEMA_VERSION}`,
        );
      }
      d.transaction(() => {
        d.exec(SCHEMA);
        d.pragma(`user_version = ${SCHEMA_VERSION}`);
      })();
      db = d;
      return d;
    } catch (e) {
      if (e instanceof AppError) throw e;
      throw new AppError(
        503,
        'SPLITS_UNAVAILABLE',
        `the splits file cannot be opened for writing (${(e as Error).message.slice(0, 120)}): set SPLITS_PATH to a writable place`,
      );
    }
  };
  const row = (r: { body: string; definition: string } | undefined) =>
    r ? { split: JSON.parse(r.body) as Split, definition: r.definition } : undefined;
  return {
    get: (name) =>
      row(
        open()
          .prepare<[string], { body: string; definition: string }>('SELECT body, definition FROM splits WHERE name = ?')
          .get(name),
      ),
    list: () =>
      open()
        .prepare<[], { body: string }>('SELECT body FROM splits ORDER BY name')
        .all()
        .map((r) => JSON.parse(r.body) as Split),
    insert: (split, definition) =>
      open()
        .prepare(
          'INSERT OR IGNORE INTO splits (name, dataset_version, definition, body, created_at) VALUES (?, ?, ?, ?, ?)',
        )
        .run(split.name, split.datasetVersion, definition, JSON.stringify(split), split.createdAt).changes === 1,
    delete: (name) => open().prepare('DELETE FROM splits WHERE name = ?').run(name).changes === 1,
    close: () => {
      db?.close();
      db = null;
    },
  };
}
