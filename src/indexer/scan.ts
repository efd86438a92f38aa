/**
 * Finds the slides and label files of a data directory and matches them by file stem,
 * case-insensitively (`Tumor_001.xml` labels `tumor_001.tif`). Only stats files: no reads.
 * Paths are resolved under the data directory here, once; nothing downstream takes a path
 * from a request.
 */
import { createHash } from 'node:crypto';
import { readdirSync, statSync, type Stats } from 'node:fs';
import { extname, join, relative, resolve, sep } from 'node:path';
import type { LabelSourceSpec, Manifest } from '../dataset/manifest.js';
import type { ObjectInfo } from '../storage/store.js';

export interface FileRef {
  relPath: string;
  absPath: string;
  size: number;
  mtimeMs: number;
  /** The object's ETag (object storage only): part of its identity with size and time. */
  etag?: string | null;
}

export interface LabelFileRef extends FileRef {
  position: number;
  source: LabelSourceSpec;
}

export interface SlideCandidate {
  id: string;
  file: FileRef;
  labels: LabelFileRef[];
  /** Digest of everything the slide's index rows derive from. */
  inputKey: string;
}

export interface ScanProblem {
  relPath: string;
  slideId: string | null;
  code: string;
  detail: string;
}

export interface ScanResult {
  slides: SlideCandidate[];
  problems: ScanProblem[];
}

/** Slide ids appear in URLs: keep them to a safe, readable alphabet. */
export const SLIDE_ID_PATTERN = /^[a-z0-9][a-z0-9._-]{0,127}$/;
const LABEL_EXTENSIONS: Record<LabelSourceSpec['format'], string[]> = {
  'asap-xml': ['.xml'],
  geojson: ['.geojson', '.json'],
  'label-mask': ['.png', '.tif', '.tiff'],
  'color-mask': ['.png', '.tif', '.tiff', '.jpg', '.jpeg'],
};
/** Bump when the derivation of index rows from the same inputs changes: forces a rebuild. */
export const ALGORITHM_VERSION = 2;

/** The files of `dir` with one of `extensions` (not under `exclude`), sorted by relative path. */
type Lister = (dir: string, extensions: string[], exclude: string[], problems: ScanProblem[]) => FileRef[];

export function scanDataset(dataDir: string, manifest: Manifest): ScanResult {
  const root = resolve(dataDir);
  return scanWith(manifest, (dir, extensions, exclude, problems) =>
    listFiles(
      root,
      dir,
      extensions,
      exclude.map((d) => resolve(root, d)),
      problems,
    ),
  );
}

/**
 * The same scan over an object store's listing: keys under the manifest's directories, matched
 * the same way; `absPath` is the object's key. Objects carry their ETag into the input key.
 */
export function scanObjects(objects: readonly ObjectInfo[], manifest: Manifest): ScanResult {
  const norm = (d: string) =>
    d
      .split('/')
      .filter((p) => p !== '' && p !== '.')
      .join('/');
  const under = (key: string, dir: string) => dir === '' || key.startsWith(`${dir}/`);
  return scanWith(manifest, (dir, extensions, exclude) => {
    const d = norm(dir);
    // As the local walk: never above the root, at most 8 directories deep, no hidden files.
    if (d.split('/').includes('..')) return [];
    return objects
      .filter((o) => under(o.key, d) && !exclude.map(norm).some((x) => x !== d && under(o.key, x)))
      .filter((o) => extensions.includes(extname(o.key).toLowerCase()))
      .filter((o) => !o.key.split('/').some((p) => p.startsWith('.')))
      .filter((o) => o.key.slice(d.length).split('/').length <= 10)
      .map((o) => ({ relPath: o.key, absPath: o.key, size: o.size, mtimeMs: o.lastModifiedMs, etag: o.etag }))
      .sort((a, b) => a.relPath.localeCompare(b.relPath));
  });
}

function scanWith(manifest: Manifest, listDir: Lister): ScanResult {
  const problems: ScanProblem[] = [];
  const slides = new Map<string, SlideCandidate>();
  // Label directories can hold TIFF masks: never take those for slides.
  const labelDirs = manifest.labelSources.map((l) => l.dir);
  for (const file of listDir(manifest.slidesDir, manifest.extensions, labelDirs, problems)) {
    const id = stemOf(file.relPath).toLowerCase();
    if (!SLIDE_ID_PATTERN.test(id)) {
      problems.push({
        relPath: file.relPath,
        slideId: null,
        code: 'BAD_SLIDE_NAME',
        detail: `slide file names must be letters, digits, ".", "_" or "-" (at most 128): "${stemOf(file.relPath)}" is not`,
      });
    } else if (slides.has(id)) {
      problems.push({
        relPath: file.relPath,
        slideId: id,
        code: 'DUPLICATE_SLIDE',
        detail: `another slide file already has the id "${id}" (${slides.get(id)!.file.relPath})`,
      });
    } else {
      slides.set(id, { id, file, labels: [], inputKey: '' });
    }
  }
  manifest.labelSources.forEach((source, position) => {
    for (const file of listDir(source.dir, LABEL_EXTENSIONS[source.format], [], problems)) {
      const stem = stemOf(file.relPath).toLowerCase();
      const suffix = source.suffix.toLowerCase();
      const id = suffix && stem.endsWith(suffix) ? stem.slice(0, -suffix.length) : stem;
      const slide = slides.get(id);
      if (!slide) {
        problems.push({
          relPath: file.relPath,
          slideId: null,
          code: 'LABEL_WITHOUT_SLIDE',
          detail: `label source "${source.id}": no slide has the stem "${id}"`,
        });
      } else if (slide.labels.some((l) => l.position === position)) {
        problems.push({
          relPath: file.relPath,
          slideId: id,
          code: 'DUPLICATE_LABEL_FILE',
          detail: `label source "${source.id}" has two files for slide "${id}"`,
        });
      } else {
        slide.labels.push({ ...file, position, source });
      }
    }
  });
  const list = [...slides.values()].sort((a, b) => a.id.localeCompare(b.id));
  for (const s of list) {
    s.labels.sort((a, b) => a.position - b.position);
    s.inputKey = inputKey(s, manifest);
  }
  return { slides: list, problems };
}

function inputKey(s: SlideCandidate, manifest: Manifest): string {
  // An object's ETag joins its identity; local files keep the key they always had.
  const part = (f: FileRef) => [f.relPath, f.size, Math.round(f.mtimeMs), ...(f.etag ? [f.etag] : [])];
  const key = JSON.stringify([
    ALGORITHM_VERSION,
    manifest.hash,
    part(s.file),
    s.labels.map((l) => [l.source.id, ...part(l)]),
  ]);
  return createHash('sha256').update(key).digest('hex');
}

function stemOf(relPath: string): string {
  const base = relPath.split(/[\\/]/).pop() ?? relPath;
  return base.slice(0, base.length - extname(base).length);
}

/**
 * Regular files with one of `extensions` under root/dir, recursively. A symbolic link to a regular
 * file is taken as that file under the link's own name (datasets are often assembled from links
 * into shared storage); only the file the link names is read. A dangling link or a link loop is a
 * problem with its own code; a link to a directory is not followed (and said so), so a walk never
 * leaves the directories the manifest names.
 */
function listFiles(
  root: string,
  dir: string,
  extensions: string[],
  exclude: string[],
  problems: ScanProblem[],
): FileRef[] {
  const start = resolve(root, dir);
  // A manifest must not point outside the data directory.
  if (start !== root && !start.startsWith(root + sep)) return [];
  const out: FileRef[] = [];
  const walk = (abs: string, depth: number) => {
    let entries;
    try {
      entries = readdirSync(abs, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const p = join(abs, e.name);
      const relPath = relative(root, p).split(sep).join('/');
      if (e.isDirectory() && depth < 8 && !exclude.includes(p)) walk(p, depth + 1);
      else if (e.isFile() && extensions.includes(extname(e.name).toLowerCase()))
        out.push(fileRef(p, relPath, statSync(p)));
      else if (e.isSymbolicLink()) {
        const target = followLink(p, relPath, extensions, problems);
        if (target) out.push(fileRef(p, relPath, target));
      }
    }
  };
  walk(start, 0);
  return out.sort((a, b) => a.relPath.localeCompare(b.relPath));
}

function fileRef(absPath: string, relPath: string, st: Stats): FileRef {
  return { relPath, absPath, size: st.size, mtimeMs: st.mtimeMs };
}

/** The stat of the regular file a link names, or null (with a problem when it matters). */
function followLink(p: string, relPath: string, extensions: string[], problems: ScanProblem[]): Stats | null {
  let st: Stats;
  try {
    st = statSync(p);
  } catch (e) {
    // Only a link named like a file of this directory's kind is worth a problem.
    if (!extensions.includes(extname(p).toLowerCase())) return null;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ELOOP')
      problems.push({
        relPath,
        slideId: null,
        code: 'LINK_LOOP',
        detail: 'the symbolic link leads back to itself (a link loop): refused',
      });
    else
      problems.push({
        relPath,
        slideId: null,
        code: 'LINK_DANGLING',
        detail: `the symbolic link names a file that cannot be reached (${code ?? 'unknown error'}): is the storage it points to mounted?`,
      });
    return null;
  }
  if (st.isDirectory()) {
    problems.push({
      relPath,
      slideId: null,
      code: 'LINK_TO_DIRECTORY',
      detail: 'a symbolic link to a directory is not followed: link the files, or name the directory in the manifest',
    });
    return null;
  }
  return st.isFile() && extensions.includes(extname(p).toLowerCase()) ? st : null;
}
