import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acquireIngestLock, discardStaged, publishIndex, stageIndex } from '../../src/indexer/publish.js';
import { appErrorOf, makeTempDir, removeTempDir } from '../support/core-fixtures.js';

let dir: string;
let index: string;
beforeEach(() => {
  dir = makeTempDir('publish');
  index = join(dir, 'index.sqlite');
});
afterEach(() => removeTempDir(dir));

/** A process that leaves a zombie child it never reaps: sh starts `sleep 0.01` in the background, then becomes `sleep 30`. */
function zombieMaker(): Promise<{ parent: ChildProcess; zombie: number }> {
  return new Promise((resolve, reject) => {
    const parent = spawn('sh', ['-c', 'sleep 0.01 & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] });
    parent.on('error', reject);
    parent.stdout!.once('data', (b: Buffer) => {
      const zombie = Number(b.toString().trim());
      const wait = () =>
        /^\d+ \(.*\) Z/s.test(readFileSync(`/proc/${zombie}/stat`, 'utf8'))
          ? resolve({ parent, zombie })
          : setTimeout(wait, 10);
      wait();
    });
  });
}

describe('acquireIngestLock', () => {
  it('takes a free lock, refuses a second one while held, and releases it', async () => {
    const release = acquireIngestLock(index);
    expect(readFileSync(`${index}.lock`, 'utf8')).toBe(String(process.pid));
    // Held by a live process (here: our parent), the lock refuses.
    writeFileSync(`${index}.lock`, String(process.ppid));
    const e = await appErrorOf(() => acquireIngestLock(index));
    expect([e.status, e.code, e.detail]).toEqual([
      409,
      'INGEST_RUNNING',
      `another ingest (process ${process.ppid}) is running`,
    ]);
    release();
    expect(existsSync(`${index}.lock`)).toBe(false);
  });

  const stale: Array<[string, () => string]> = [
    ['an empty lock (the writer died before writing its pid)', () => ''],
    ['garbage', () => 'not a pid'],
    ['our own pid (a previous ingest of this process that did not release)', () => String(process.pid)],
    ['a pid no process has', () => '2147483646'],
  ];
  for (const [what, content] of stale) {
    it(`takes over a stale lock: ${what}`, () => {
      writeFileSync(`${index}.lock`, content());
      acquireIngestLock(index)();
      expect(existsSync(`${index}.lock`)).toBe(false);
    });
  }

  it('takes over the lock of a dead ingest that is still a zombie', async () => {
    const { parent, zombie } = await zombieMaker();
    try {
      expect(() => process.kill(zombie, 0)).not.toThrow(); // a zombie still answers signal 0
      writeFileSync(`${index}.lock`, String(zombie));
      acquireIngestLock(index)();
    } finally {
      parent.kill('SIGKILL');
    }
  });
});

describe('stageIndex / publishIndex / discardStaged', () => {
  it('stages a copy, removes what dead ingests left, and publishes by rename', () => {
    writeFileSync(index, 'old index');
    for (const junk of ['index.sqlite.building-1', 'index.sqlite.building-1-wal', 'index.sqlite.building-77-shm'])
      writeFileSync(join(dir, junk), 'junk');
    writeFileSync(join(dir, 'other.sqlite.building-1'), 'not ours');
    const temp = stageIndex(index);
    expect(temp).toBe(`${index}.building-${process.pid}`);
    expect(readFileSync(temp, 'utf8')).toBe('old index');
    expect(readdirSync(dir).sort()).toEqual([
      'index.sqlite',
      `index.sqlite.building-${process.pid}`,
      'other.sqlite.building-1',
    ]);
    writeFileSync(temp, 'new index');
    publishIndex(temp, index);
    expect(readFileSync(index, 'utf8')).toBe('new index');
    discardStaged(temp);
    expect(readdirSync(dir).sort()).toEqual(['index.sqlite', 'other.sqlite.building-1']);
  });

  it('stages nothing to copy when there is no index yet; discarding removes the journal files too', () => {
    const temp = stageIndex(index);
    expect(existsSync(temp)).toBe(false);
    for (const f of [temp, `${temp}-wal`, `${temp}-shm`, `${temp}-journal`]) writeFileSync(f, 'x');
    discardStaged(temp);
    expect(readdirSync(dir)).toEqual([]);
  });
});
