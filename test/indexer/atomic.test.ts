import Database from 'better-sqlite3';
import { copyFileSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  isRunning,
  runProcess,
  signalProcess,
  startProcess,
  stopProcess,
  waitForLine,
  type StartOptions,
} from '../../dev/procs.js';
import { openIndexReadOnly } from '../../src/db/open.js';
import { SCHEMA_VERSION } from '../../src/db/migrate.js';
import { ingest } from '../../src/indexer/ingest.js';
import { buildDataset, manifestJson } from '../support/core-dataset.js';
import { appErrorOf, makeTempDir, removeTempDir } from '../support/core-fixtures.js';
import { slideRows } from '../support/core-index.js';

let root: string;
let data: string;
let varDir: string;
let index: string;
/** Copies of one labelled slide: enough work that an ingest takes a second or more. */
const COPIES = 16;

beforeAll(async () => {
  root = makeTempDir('atomic');
  data = join(root, 'data');
  varDir = join(root, 'var');
  index = join(varDir, 'index.sqlite');
  await buildDataset(data, { real: false });
  for (let k = 0; k < COPIES; k++) {
    copyFileSync(join(data, 'slides/Tumor_083.tif'), join(data, `slides/tumor_3${String(k).padStart(2, '0')}.tif`));
    copyFileSync(
      join(data, 'labels/lesions/Tumor_083.xml'),
      join(data, `labels/lesions/tumor_3${String(k).padStart(2, '0')}.xml`),
    );
    copyFileSync(
      join(data, 'labels/artefacts/tumor_083.geojson'),
      join(data, `labels/artefacts/tumor_3${String(k).padStart(2, '0')}.geojson`),
    );
  }
  await ingest({ dataDir: data, indexPath: index });
});
afterAll(() => removeTempDir(root));

const CLI = ['tsx', 'src/cli.ts', 'ingest'];
// npx and tsx each start a child: the CLI runs as a process group, signalled as a whole, or the
// ingest itself would survive.
const cliOptions = (env: Record<string, string>): StartOptions => ({
  env: { ...process.env, ...env },
  group: true,
  stdio: ['ignore', 'ignore', 'pipe'],
});

async function until(ok: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`still waiting after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('ingest: atomic publish', () => {
  it('a SIGKILL while building leaves the old index byte-identical and serving; the next ingest recovers', async () => {
    const before = readFileSync(index);
    const slidesBefore = slideRows(index).size;
    // A new raster resolution: every slide must be rebuilt, at 4x the pixels.
    writeFileSync(join(data, 'manifest.json'), JSON.stringify(manifestJson(1)));
    const cli = startProcess('ingest CLI', 'npx', CLI, cliOptions({ DATA_DIR: data, INDEX_PATH: index }));
    let killedAt: string;
    try {
      const slideLine = (l: string) => (/^ingest: slide [a-z0-9]/.test(l) ? l : undefined);
      killedAt = await waitForLine(cli, 'first slide line', slideLine, 60_000);
      signalProcess(cli, 'SIGKILL');
    } finally {
      await stopProcess(cli);
    }
    expect(killedAt).toMatch(/^ingest: slide \w+ \(0\/19\)$/);
    expect((await cli.done).signal).toBe('SIGKILL');
    expect(readFileSync(index).equals(before)).toBe(true);
    const db = openIndexReadOnly(index);
    try {
      expect(db.prepare('SELECT count(*) AS n FROM slides').get()).toEqual({ n: slidesBefore });
    } finally {
      db.close();
    }
    // What the dead process left behind: its staged copy and its lock.
    const junk = readdirSync(varDir).filter((f) => f !== 'index.sqlite');
    expect(junk.some((f) => f.startsWith('index.sqlite.building-'))).toBe(true);
    expect(junk).toContain('index.sqlite.lock');
    // SIGKILL takes a moment to finish; then the orphan stays a zombie until PID 1 reaps it (here
    // up to ~2 s later): its lock must not block the next ingest.
    const pid = Number(readFileSync(`${index}.lock`, 'utf8'));
    expect(pid).toBeGreaterThan(0);
    await until(() => !isRunning(pid), 10_000);

    const next = await ingest({ dataDir: data, indexPath: index }); // ~1.2 s of work: 19 slides at downsample 1
    expect(next.published).toBe(true);
    expect(next.indexed).toHaveLength(slidesBefore);
    expect(readdirSync(varDir)).toEqual(['index.sqlite']);
    expect(slideRows(index).get('tumor_300')).toMatchObject({ label_downsample: 1, label_width: 3000 });
  });

  it('a lock held by a live process refuses a second ingest and leaves everything as it was', async () => {
    const lock = `${index}.lock`;
    writeFileSync(lock, String(process.ppid));
    try {
      const e = await appErrorOf(() => ingest({ dataDir: data, indexPath: index }));
      expect([e.status, e.code]).toEqual([409, 'INGEST_RUNNING']);
      expect(readFileSync(lock, 'utf8')).toBe(String(process.ppid));
    } finally {
      writeFileSync(lock, ''); // an empty lock (a process that died before writing) is stale
    }
    expect((await ingest({ dataDir: data, indexPath: index })).published).toBe(false);
    expect(existsSync(lock)).toBe(false);
  });
});

describe("ingest: a file at INDEX_PATH that is not this service's index", () => {
  const cases: Array<[string, (path: string) => void, string]> = [
    [
      'a foreign SQLite database',
      (p) => {
        const db = new Database(p);
        db.exec("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('keep me')");
        db.close();
      },
      'INDEX_FOREIGN',
    ],
    ['a text file', (p) => writeFileSync(p, 'these are my notes, not an index\n'.repeat(100)), 'INDEX_UNREADABLE'],
    [
      'an index from a future schema version',
      (p) => {
        copyFileSync(index, p);
        const db = new Database(p);
        db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
        db.close();
      },
      'INDEX_FROM_THE_FUTURE',
    ],
  ];
  for (const [what, make, code] of cases) {
    it(`${what}: refused with ${code}, left untouched, nothing left behind`, async () => {
      const dir = makeTempDir('foreign');
      try {
        const path = join(dir, 'index.sqlite');
        make(path);
        const bytes = readFileSync(path);
        const e = await appErrorOf(() => ingest({ dataDir: data, indexPath: path }));
        expect(e.code).toBe(code);
        expect(e.detail).not.toContain(dir);
        expect(readFileSync(path).equals(bytes)).toBe(true);
        expect(readdirSync(dir)).toEqual(['index.sqlite']);
        expect((await appErrorOf(() => openIndexReadOnly(path))).code).toBe(code);
      } finally {
        removeTempDir(dir);
      }
    });
  }

  it('the CLI says so and exits with status 1', async () => {
    const dir = makeTempDir('foreign-cli');
    try {
      const path = join(dir, 'index.sqlite');
      writeFileSync(path, 'not a database');
      const options = { ...cliOptions({ DATA_DIR: data, INDEX_PATH: path }), timeoutMs: 60_000 };
      const r = await runProcess('ingest CLI', 'npx', CLI, options);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/error: INDEX_UNREADABLE: the index file cannot be opened/);
      expect(readFileSync(path, 'utf8')).toBe('not a database');
    } finally {
      removeTempDir(dir);
    }
  });
});
