/**
 * Failures of the storage under the index (a full disk, a quota, an I/O error, a read-only
 * volume) are not a property of one slide: every later slide would fail the same way, and the
 * index built so far is incomplete. The ingest stops on the first one and publishes nothing.
 */
import { AppError } from '../errors.js';

/** Node's errno codes of a storage failure (EFBIG: a file size limit, as `ulimit -f` sets). */
const ERRNO_CODES = new Set(['ENOSPC', 'EDQUOT', 'EIO', 'EROFS', 'EFBIG']);
/** SQLite's primary result codes of one; extended codes (SQLITE_IOERR_WRITE, ...) start with them. */
const SQLITE_CODES = ['SQLITE_FULL', 'SQLITE_IOERR', 'SQLITE_READONLY'];

/** The error's code when it is a storage failure, else null. */
export function storageErrorCode(e: unknown): string | null {
  if (e instanceof AppError || typeof e !== 'object' || e === null) return null;
  const code = (e as { code?: unknown }).code;
  if (typeof code !== 'string') return null;
  if (ERRNO_CODES.has(code)) return code;
  return SQLITE_CODES.some((c) => code === c || code.startsWith(`${c}_`)) ? code : null;
}

/**
 * The ingest's failure for a storage error: 507, a stable code, and a detail without any path
 * (SQLite's messages name none; Node's do, so only its errno code is kept).
 */
export function storageFailure(e: unknown, slideId: string | null): AppError {
  const code = storageErrorCode(e) ?? 'unknown';
  const what = code.startsWith('SQLITE_') ? `${(e as Error).message} (${code})` : code;
  const where = slideId ? ` while indexing slide "${slideId}"` : '';
  return new AppError(
    507,
    'INGEST_STORAGE_FAILED',
    `the index could not be written${where}: ${what}; nothing was published and the previous index is unchanged (free space or check the volume, then ingest again)`,
  );
}
