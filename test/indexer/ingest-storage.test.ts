/**
 * A full disk during ingest: every slide would fail with the same storage error, so the ingest
 * stops, publishes nothing (the old index stays byte-identical) and the CLI exits non-zero.
 * The storage failure is real: a file size limit (`ulimit -f`) just above the old index lets the
 * staged copy be made, then SQLite's writes of the rebuilt slides fail (EFBIG -> SQLITE_IOERR).
 */
import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { ingest } from '../../src/indexer/ingest.js';
import { storageErrorCode, storageFailure } from '../../src/indexer/storage.js';
import { buildDataset, manifestJson } from '../support/core-dataset.js';
import { makeTempDir, removeTempDir } from '../support/core-fixtures.js';
import { problemRows, slideRows } from '../support/core-index.js';

let root: string;
let data: string;
let varDir: string;
let index: string;

/** The manifest without masks (a small index), and at `labelDownsample` (1: 16x the raster of 4). */
function writeManifest(labelDownsample: number): void {
  const m = manifestJson(labelDownsample) as { labelSources: unknown[] };
  writeFileSync(join(data, 'manifest.json'), JSON.stringify({ ...m, labelSources: m.labelSources.slice(1, 3) }));
}

beforeAll(async () => {
  root = makeTempDir('storage');
  data = join(root, 'data');
  varDir = join(root, 'var');
  index = join(varDir, 'index.sqlite');
  await buildDataset(data, { real: false });
  writeManifest(4);
  await ingest({ dataDir: data, indexPath: index });
});
afterAll(() => removeTempDir(root));

/** The CLI's ingest under a file size limit of `blocks` KiB (bash's ulimit -f unit). */
function runCliLimited(blocks: number): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const cmd = `ulimit -f ${blocks} && exec npx tsx src/cli.ts ingest`;
    const child = spawn('bash', ['-c', cmd], {
      cwd: process.cwd(),
      env: { ...process.env, DATA_DIR: data, INDEX_PATH: index },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

describe('ingest: storage failures publish nothing', () => {
  it('a full volume mid-ingest: exit 1 with INGEST_STORAGE_FAILED, the old index byte-identical, nothing left', async () => {
    const before = readFileSync(index);
    const rows = slideRows(index);
    expect(rows.size).toBe(3);
    writeManifest(1); // every slide must be rebuilt, larger
    const r = await runCliLimited(Math.ceil(statSync(index).size / 1024) + 4);
    expect(r.stderr).toMatch(
      /error: INGEST_STORAGE_FAILED: the index could not be written while indexing slide "\w+": disk I\/O error \(SQLITE_IOERR/,
    );
    expect(r.stderr).not.toMatch(/published in/);
    expect(r.code).toBe(1);
    expect(readFileSync(index).equals(before)).toBe(true);
    expect(slideRows(index)).toEqual(rows);
    expect(problemRows(index)).toEqual([]);
    expect(readdirSync(varDir)).toEqual(['index.sqlite']);
    // With room again, the same ingest publishes.
    const next = await ingest({ dataDir: data, indexPath: index });
    expect([next.published, next.indexed.length, next.problems]).toEqual([true, 3, []]);
  });
});

describe('storage errors: which failures stop the ingest', () => {
  it('SQLite\'s own "database or disk is full" (a page limit on a real database) is one', () => {
    const db = new Database(':memory:');
    try {
      db.exec('CREATE TABLE t (b BLOB)');
      db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true }) as number}`);
      let err: unknown;
      try {
        db.prepare('INSERT INTO t VALUES (zeroblob(1000000))').run();
      } catch (e) {
        err = e;
      }
      expect((err as Error).message).toBe('database or disk is full');
      expect(storageErrorCode(err)).toBe('SQLITE_FULL');
      const f = storageFailure(err, 'tumor_001');
      expect([f.status, f.code]).toEqual([507, 'INGEST_STORAGE_FAILED']);
      expect(f.detail).toMatch(
        /^the index could not be written while indexing slide "tumor_001": database or disk is full \(SQLITE_FULL\); nothing was published/,
      );
    } finally {
      db.close();
    }
  });

  const errno = (code: string) =>
    Object.assign(new Error(`${code}: failed, write '/some/where/index.sqlite'`), { code });
  const sqlite = (code: string) => Object.assign(new Error('x'), { code });
  const cases: Array<[string, unknown, string | null]> = [
    ['ENOSPC', errno('ENOSPC'), 'ENOSPC'],
    ['EDQUOT', errno('EDQUOT'), 'EDQUOT'],
    ['EIO', errno('EIO'), 'EIO'],
    ['EROFS', errno('EROFS'), 'EROFS'],
    ['EFBIG', errno('EFBIG'), 'EFBIG'],
    ['SQLITE_IOERR_WRITE', sqlite('SQLITE_IOERR_WRITE'), 'SQLITE_IOERR_WRITE'],
    ['SQLITE_READONLY', sqlite('SQLITE_READONLY'), 'SQLITE_READONLY'],
    ['ENOENT (a missing input file)', errno('ENOENT'), null],
    ['SQLITE_CONSTRAINT', sqlite('SQLITE_CONSTRAINT_PRIMARYKEY'), null],
    ['SQLITE_FULLY (not a prefix match)', sqlite('SQLITE_FULLY'), null],
    ['an AppError of a bad file', new AppError(422, 'XML_MALFORMED', 'bad'), null],
    ['a plain error', new Error('boom'), null],
    ['not an error', 'ENOSPC', null],
  ];
  for (const [what, e, code] of cases) {
    it(`${what} -> ${code ?? 'not a storage error'}`, () => expect(storageErrorCode(e)).toBe(code));
  }

  it("a Node error's detail keeps its code and drops its message (which names a path)", () => {
    const f = storageFailure(errno('ENOSPC'), null);
    expect(f.detail).toMatch(/^the index could not be written: ENOSPC; nothing was published/);
    expect(f.detail).not.toContain('/some/where');
  });
});
