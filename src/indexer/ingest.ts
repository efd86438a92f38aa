/**
 * Ingest: a data directory becomes the SQLite index the service reads.
 *
 * Incremental (a slide whose files and manifest are unchanged is not rebuilt; an unchanged bad
 * file is not retried), per-slide fault isolation (one bad file is reported and the others are
 * indexed; a slide that fails keeps its previous rows), and atomic as a whole (see publish.ts).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { openIndexForWrite, openIndexReadOnly } from '../db/open.js';
import { loadManifest, loadManifestFrom, type Manifest } from '../dataset/manifest.js';
import { isRemote } from '../storage/location.js';
import { openRemote, type Remote, type RemoteSettings } from '../storage/open.js';
import { AppError } from '../errors.js';
import { probeCodecs } from '../imaging/sharp.js';
import { buildSlide } from './build.js';
import { acquireIngestLock, discardStaged, publishIndex, stageIndex } from './publish.js';
import { scanDataset, scanObjects, type SlideCandidate } from './scan.js';
import { storageErrorCode, storageFailure } from './storage.js';
import { createIndexWriter, type ProblemRow } from './writer.js';

export interface IngestEvent {
  phase: 'scan' | 'slide' | 'publish';
  done: number;
  total: number;
  slideId?: string;
}

export interface IngestReport {
  published: boolean;
  datasetVersion: string;
  indexed: string[];
  unchanged: string[];
  removed: string[];
  problems: ProblemRow[];
  ms: number;
}

export interface IngestOptions {
  dataDir: string;
  indexPath: string;
  onEvent?: (e: IngestEvent) => void;
  /** Accept a scan that finds no slide at all and empty the index. */
  allowEmpty?: boolean;
  /** MAX_SLIDE_PIXELS (config.ts): larger slides are refused. */
  maxSlidePixels?: number;
  /** Rasterising budget of one vector label file (config MAX_RASTER_WORK; its default when absent). */
  maxRasterWork?: number;
  /** How to reach a dataDir on S3 or HTTP(S) (config `remote`); unused for a local directory. */
  remote?: RemoteSettings;
}

interface Previous {
  keys: Map<string, string>;
  problems: ProblemRow[];
  manifestHash: string | null;
  datasetVersion: string | null;
}

export async function ingest(opts: IngestOptions): Promise<IngestReport> {
  const t0 = performance.now();
  const emit = opts.onEvent ?? (() => {});
  mkdirSync(dirname(opts.indexPath), { recursive: true });
  const release = acquireIngestLock(opts.indexPath);
  const remote = isRemote(opts.dataDir) ? openRemoteFor(opts) : null;
  try {
    // An unmounted volume must not publish an empty index over a full one.
    if (!remote && (!existsSync(opts.dataDir) || !statSync(opts.dataDir).isDirectory())) {
      throw new AppError(422, 'DATA_DIR_MISSING', 'the data directory does not exist or is not a directory');
    }
    const manifest = remote ? await loadManifestFrom(remote.store) : loadManifest(opts.dataDir);
    emit({ phase: 'scan', done: 0, total: 1 });
    const scan = remote ? await scanStore(remote, manifest) : scanDataset(opts.dataDir, manifest);
    const prev = readPrevious(opts.indexPath);
    if (scan.slides.length === 0 && prev.keys.size > 0 && !opts.allowEmpty) {
      throw new AppError(
        422,
        'DATASET_EMPTY',
        `no slide found under "${manifest.slidesDir}" while the index has ${prev.keys.size}: refusing to drop them all (is the volume mounted?)`,
      );
    }
    const retryable = (c: SlideCandidate) =>
      !prev.problems.some((p) => p.inputKey === c.inputKey && p.relPath === c.file.relPath);
    const toBuild = scan.slides.filter((c) => prev.keys.get(c.id) !== c.inputKey && retryable(c));
    const carried = prev.problems.filter(
      (p) => p.inputKey !== null && scan.slides.some((c) => c.inputKey === p.inputKey),
    );
    const removed = [...prev.keys.keys()].filter((id) => !scan.slides.some((c) => c.id === id));
    const unchanged = scan.slides.filter((c) => prev.keys.get(c.id) === c.inputKey).map((c) => c.id);
    const scanProblems: ProblemRow[] = scan.problems.map((p) => ({ ...p, inputKey: null }));
    const upToDate =
      toBuild.length === 0 &&
      removed.length === 0 &&
      prev.manifestHash === manifest.hash &&
      sameProblems(prev.problems, [...carried, ...scanProblems]);
    if (upToDate && prev.datasetVersion !== null) {
      return {
        published: false,
        datasetVersion: prev.datasetVersion,
        indexed: [],
        unchanged,
        removed: [],
        problems: prev.problems,
        ms: performance.now() - t0,
      };
    }
    const codecs = await probeCodecs();
    const temp = stageIndex(opts.indexPath);
    try {
      const db = openIndexForWrite(temp);
      const writer = createIndexWriter(db);
      const problems: ProblemRow[] = [...carried, ...scanProblems];
      const indexed: string[] = [];
      for (const [i, c] of toBuild.entries()) {
        emit({ phase: 'slide', done: i, total: toBuild.length, slideId: c.id });
        try {
          const build = await buildSlide(
            c,
            manifest,
            codecs,
            { maxSlidePixels: opts.maxSlidePixels, maxRasterWork: opts.maxRasterWork },
            remote,
          );
          writer.replaceSlide(build);
          indexed.push(c.id);
          // Kept while the slide's inputs are unchanged, like a failure's problem.
          for (const w of build.warnings) problems.push({ ...w, slideId: c.id, inputKey: c.inputKey });
        } catch (e) {
          // A full disk is no fault of this slide: stop, and publish nothing.
          if (storageErrorCode(e)) throw storageFailure(e, c.id);
          // Nor is an object store that does not answer, or an object replaced while it was read:
          // recorded as the slide's problem it would not be retried until the object changes.
          if (e instanceof AppError && (e.code === 'STORE_UNAVAILABLE' || e.code === 'SLIDE_CHANGED'))
            throw new AppError(503, e.code, `slide ${c.id}: ${e.detail}; nothing was published`, { ...e.headers });
          problems.push(problemOf(c, e));
        }
      }
      emit({ phase: 'slide', done: toBuild.length, total: toBuild.length });
      for (const id of removed) writer.deleteSlide(id);
      const datasetVersion = versionOf(manifest.hash, writer.slideKeys());
      writer.setDataset(manifest, datasetVersion, problems);
      emit({ phase: 'publish', done: 0, total: 1 });
      db.pragma('wal_checkpoint(TRUNCATE)');
      // The published file is immutable until the next ingest replaces it: no WAL needed by readers.
      db.pragma('journal_mode = DELETE');
      db.close();
      publishIndex(temp, opts.indexPath);
      emit({ phase: 'publish', done: 1, total: 1 });
      return { published: true, datasetVersion, indexed, unchanged, removed, problems, ms: performance.now() - t0 };
    } catch (e) {
      throw storageErrorCode(e) ? storageFailure(e, null) : e;
    } finally {
      discardStaged(temp);
    }
  } finally {
    remote?.store.close();
    release();
  }
}

function readPrevious(indexPath: string): Previous {
  if (!existsSync(indexPath)) return { keys: new Map(), problems: [], manifestHash: null, datasetVersion: null };
  // A foreign or corrupt file is refused here rather than silently replaced.
  const db = openIndexReadOnly(indexPath);
  try {
    const keys = new Map(
      db
        .prepare<[], { id: string; input_key: string }>('SELECT id, input_key FROM slides')
        .all()
        .map((r) => [r.id, r.input_key]),
    );
    // Decodable slides indexed before tissue detection existed are rebuilt once (their key cannot match).
    for (const id of slidesWithoutTissue(db)) keys.set(id, `${keys.get(id)}:no-tissue`);
    // input_key is in the first schema: every index this service opens has it.
    const problems = db
      .prepare<
        [],
        { rel_path: string; slide_id: string | null; code: string; detail: string; input_key: string | null }
      >('SELECT * FROM ingest_problems')
      .all()
      .map((r) => ({
        relPath: r.rel_path,
        slideId: r.slide_id,
        code: r.code,
        detail: r.detail,
        inputKey: r.input_key,
      }));
    const get = (k: string) =>
      db.prepare<[string], { value: string }>('SELECT value FROM dataset WHERE key = ?').get(k)?.value ?? null;
    return { keys, problems, manifestHash: get('manifest_hash'), datasetVersion: get('dataset_version') };
  } finally {
    db.close();
  }
}

function slidesWithoutTissue(db: ReturnType<typeof openIndexReadOnly>): string[] {
  const hasTable = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'tissue_rasters'").get();
  const sql = hasTable
    ? "SELECT id FROM slides WHERE status = 'ok' AND id NOT IN (SELECT slide_id FROM tissue_rasters)"
    : "SELECT id FROM slides WHERE status = 'ok'";
  return db
    .prepare<[], { id: string }>(sql)
    .all()
    .map((r) => r.id);
}

function problemOf(c: SlideCandidate, e: unknown): ProblemRow {
  const known = e instanceof AppError;
  return {
    relPath: c.file.relPath,
    slideId: c.id,
    code: known ? e.code : 'INGEST_FAILED',
    detail: known ? e.detail : `unexpected failure: ${(e as Error).message}`,
    // An unexpected failure may be transient: retry it next time.
    inputKey: known ? c.inputKey : null,
  };
}

/** The store of a remote dataDir, with a range cache of its own for this ingest. */
function openRemoteFor(opts: IngestOptions): Remote {
  if (!opts.remote) throw new AppError(422, 'DATA_DIR_REMOTE', 'a remote data directory needs its settings (config)');
  return openRemote(opts.dataDir, opts.remote)!;
}

/** Lists the manifest's directories (slides, then each label source's) and scans the listing. */
async function scanStore(remote: Remote, manifest: Manifest) {
  const dirs = [...new Set([manifest.slidesDir, ...manifest.labelSources.map((l) => l.dir)])];
  const objects = (await Promise.all(dirs.map((d) => remote.store.list(d)))).flat();
  const unique = [...new Map(objects.map((o) => [o.key, o])).values()];
  return scanObjects(unique, manifest);
}

function versionOf(manifestHash: string, keys: Map<string, string>): string {
  const h = createHash('sha256').update(manifestHash);
  for (const id of [...keys.keys()].sort()) h.update(`\n${id}:${keys.get(id)}`);
  return h.digest('hex').slice(0, 16);
}

function sameProblems(a: readonly ProblemRow[], b: readonly ProblemRow[]): boolean {
  const key = (p: ProblemRow) => `${p.relPath}|${p.code}|${p.inputKey}`;
  const sa = a.map(key).sort().join('\n');
  return sa === b.map(key).sort().join('\n');
}
