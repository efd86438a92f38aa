import Database from 'better-sqlite3';
import { readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCHEMA_VERSION, migrate } from '../../src/db/migrate.js';
import { openIndexForWrite, openIndexReadOnly } from '../../src/db/open.js';
import { appErrorOf, makeTempDir, removeTempDir } from '../support/core-fixtures.js';

let dir: string;
beforeAll(() => {
  dir = makeTempDir('db');
});
afterAll(() => removeTempDir(dir));

/** File descriptors this process holds on `path` (Linux): a refused open must not leak one. */
function openFds(path: string): number {
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`).startsWith(path);
    } catch {
      return false;
    }
  }).length;
}

function future(path: string): void {
  const db = openIndexForWrite(path);
  db.pragma('journal_mode = DELETE');
  db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
  db.close();
}

describe('migrate / openIndexForWrite', () => {
  it('brings a new database to the current schema, once', () => {
    const db = new Database(':memory:');
    expect(migrate(db)).toBe(SCHEMA_VERSION);
    expect(migrate(db)).toBe(SCHEMA_VERSION);
    const tables = db
      .prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
      .all()
      .map((r) => r.name);
    expect(tables).toEqual([
      'classes',
      'dataset',
      'ingest_problems',
      'label_sources',
      'label_tile_counts',
      'label_tiles',
      'slide_classes',
      'slide_levels',
      'slides',
      'tissue_rasters',
      'tissue_tile_counts',
      'tissue_tiles',
    ]);
    db.close();
  });

  it('opens for writing in WAL mode with foreign keys on', () => {
    const db = openIndexForWrite(join(dir, 'w.sqlite'));
    expect([
      db.pragma('journal_mode', { simple: true }),
      db.pragma('foreign_keys', { simple: true }),
      db.pragma('user_version', { simple: true }),
    ]).toEqual(['wal', 1, SCHEMA_VERSION]);
    db.close();
  });

  it('refuses a database from the future without changing it or keeping it open', async () => {
    const path = join(dir, 'future-w.sqlite');
    future(path);
    const bytes = readFileSync(path);
    const e = await appErrorOf(() => openIndexForWrite(path));
    expect([e.status, e.code]).toEqual([503, 'INDEX_FROM_THE_FUTURE']);
    expect(readFileSync(path).equals(bytes)).toBe(true);
    expect(openFds(path)).toBe(0);
  });
});

describe('openIndexReadOnly', () => {
  const cases: Array<[string, (path: string) => void, number, string]> = [
    ['no file', () => {}, 503, 'INDEX_MISSING'],
    ['a text file', (p) => writeFileSync(p, 'hello'), 503, 'INDEX_UNREADABLE'],
    [
      "another program's SQLite database",
      (p) => {
        const db = new Database(p);
        db.exec('CREATE TABLE t (x)');
        db.close();
      },
      503,
      'INDEX_FOREIGN',
    ],
    ['an index from a future schema', future, 503, 'INDEX_FROM_THE_FUTURE'],
  ];
  for (const [what, make, status, code] of cases) {
    it(`${what} -> ${code}, no file descriptor left open`, async () => {
      const path = join(dir, `${code}.sqlite`);
      make(path);
      const e = await appErrorOf(() => openIndexReadOnly(path));
      expect([e.status, e.code]).toEqual([status, code]);
      expect(openFds(path)).toBe(0);
    });
  }

  it('opens a current index read-only', () => {
    const path = join(dir, 'ok.sqlite');
    const w = openIndexForWrite(path);
    w.pragma('journal_mode = DELETE');
    w.close();
    const db = openIndexReadOnly(path);
    expect(db.readonly).toBe(true);
    expect(() => db.exec('DELETE FROM slides')).toThrow();
    db.close();
  });
});
