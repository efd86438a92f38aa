/**
 * How an ingest stays atomic: it builds a copy of the index under a temporary name and renames
 * it over the old one only when it is complete. A crash or kill at any point before the rename
 * leaves the old file untouched (readers that have it open keep reading it, too).
 */
import {
  closeSync,
  copyFileSync,
  constants,
  existsSync,
  fsyncSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { AppError } from '../errors.js';

/** Takes the ingest lock (one ingest at a time); returns its release function. */
export function acquireIngestLock(indexPath: string): () => void {
  const lock = `${indexPath}.lock`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(lock, String(process.pid), { flag: 'wx' });
      return () => rmSync(lock, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = Number(readFileSync(lock, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) {
        throw new AppError(409, 'INGEST_RUNNING', `another ingest (process ${pid}) is running`);
      }
      rmSync(lock, { force: true }); // left by an ingest that died
    }
  }
  throw new AppError(409, 'INGEST_RUNNING', 'the ingest lock could not be taken');
}

/** Copies the current index (if any) to a fresh temporary file; removes ones dead ingests left. */
export function stageIndex(indexPath: string): string {
  const dir = dirname(indexPath);
  const prefix = `${basename(indexPath)}.building-`;
  for (const f of readdirSync(dir)) if (f.startsWith(prefix)) rmSync(join(dir, f), { force: true });
  const temp = `${indexPath}.building-${process.pid}`;
  if (existsSync(indexPath)) copyFileSync(indexPath, temp, constants.COPYFILE_FICLONE);
  return temp;
}

/** Makes the staged file durable, then renames it over the index in one step. */
export function publishIndex(temp: string, indexPath: string): void {
  fsyncPath(temp);
  renameSync(temp, indexPath);
  fsyncPath(dirname(indexPath));
}

export function discardStaged(temp: string): void {
  for (const f of [temp, `${temp}-wal`, `${temp}-shm`, `${temp}-journal`]) rmSync(f, { force: true });
}

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  return !isZombie(pid);
}

/**
 * A killed ingest stays a zombie until its parent reaps it, and kill(pid, 0) still succeeds on
 * it; an init that reaps late (or never, as node running as PID 1) would keep the lock forever.
 * Linux says so in /proc/<pid>/stat (state Z); elsewhere the answer is "not a zombie".
 */
function isZombie(pid: number): boolean {
  try {
    return /^\d+ \(.*\) Z/s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}
