/**
 * The bench's data under var/bench/ (kept between runs, rewritten only when its inputs change):
 * - c16-src/tumor_039.tif: the Camelyon16-geometry BigTIFF (+ a stamp of what made it);
 * - c16-one/: that slide alone, annotated with the real Tumor_039 polygons (ASAP XML): the ingest
 *   measurement;
 * - c16/: the same slide plus hard links named like the slides of the real patch list
 *   (tumor_101 ... tumor_110, unannotated): what the service serves in the tiles and patches parts;
 * - c73/: 73 such slides with full-tissue context masks and real tumour polygons: the sampling
 *   measurement over a dataset the size of the real one.
 */
import { existsSync, linkSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { camelyonJsonToAsapXml, loadCamelyonJson } from '../test/support/camelyon-json.js';
import sharp from 'sharp';
import {
  CAMELYON_HEIGHT,
  CAMELYON_TIFF_VERSION,
  CAMELYON_WIDTH,
  verifyCamelyonTiff,
  writeCamelyonTiff,
} from './camelyon-tiff.js';

export const BENCH_VAR = resolve('var/bench');
export const ANNOTATED_ID = 'tumor_039';
/** The slides of the real patch-centre list; each becomes a hard link to the same file. */
export const PATCH_SLIDES = Array.from({ length: 10 }, (_, i) => `tumor_${101 + i}`);

export interface CamelyonData {
  slidePath: string;
  oneDir: string;
  serveDir: string;
  serveIndex: string;
  /** Time the BigTIFF took to write in this run, or null when the cached file was reused. */
  writeMs: number | null;
  bytes: number;
}

export const LESION_MANIFEST = {
  name: 'bench-camelyon16-geometry',
  version: '1',
  slides: { dir: 'slides' },
  labelSources: [
    { id: 'lesions', format: 'asap-xml', dir: 'lesions', classMap: { _0: 'metastasis', _1: 'metastasis', _2: null } },
  ],
};

/** Writes a file only when its content differs (unchanged mtimes keep ingest incremental). */
function writeIfChanged(path: string, content: string): void {
  if (existsSync(path) && readFileSync(path, 'utf8') === content) return;
  writeFileSync(path, content);
}

/** A hard link at `link` to `target`, replaced when it points at another file. */
function hardLink(target: string, link: string): void {
  if (existsSync(link) && statSync(link).ino === statSync(target).ino) return;
  rmSync(link, { force: true });
  linkSync(target, link);
}

export async function ensureCamelyonData(tmpDir: string): Promise<CamelyonData> {
  const srcDir = join(BENCH_VAR, 'c16-src');
  mkdirSync(srcDir, { recursive: true });
  const slidePath = join(srcDir, `${ANNOTATED_ID}.tif`);
  const stampPath = join(srcDir, 'stamp.json');
  const stamp = JSON.stringify({ version: CAMELYON_TIFF_VERSION });
  let writeMs: number | null = null;
  const fresh = existsSync(slidePath) && existsSync(stampPath) && readFileSync(stampPath, 'utf8') === stamp;
  if (!fresh) {
    rmSync(stampPath, { force: true });
    const w = await writeCamelyonTiff(slidePath, join(tmpDir, 'he-source.tif'));
    await verifyCamelyonTiff(slidePath, join(tmpDir, 'he-source.tif'));
    writeFileSync(stampPath, stamp);
    writeMs = w.ms;
  }
  const xml = camelyonJsonToAsapXml(loadCamelyonJson('Tumor_039'));
  const manifest = JSON.stringify(LESION_MANIFEST, null, 2) + '\n';
  const layout = (dir: string, copies: string[]) => {
    mkdirSync(join(dir, 'slides'), { recursive: true });
    mkdirSync(join(dir, 'lesions'), { recursive: true });
    writeIfChanged(join(dir, 'manifest.json'), manifest);
    writeIfChanged(join(dir, 'lesions', 'Tumor_039.xml'), xml);
    for (const id of [ANNOTATED_ID, ...copies]) hardLink(slidePath, join(dir, 'slides', `${id}.tif`));
  };
  const oneDir = join(BENCH_VAR, 'c16-one');
  const serveDir = join(BENCH_VAR, 'c16');
  layout(oneDir, []);
  layout(serveDir, PATCH_SLIDES);
  return {
    slidePath,
    oneDir,
    serveDir,
    serveIndex: join(BENCH_VAR, 'c16.sqlite'),
    writeMs,
    bytes: statSync(slidePath).size,
  };
}

/** One line of the real patch list: slide name and level-0 centre. */
export interface PatchCentre {
  slide: string;
  x: number;
  y: number;
}

/** The shared fixtures next to the repository (bench/ is one level below its root). */
export const PATCH_CENTRES = fileURLToPath(
  new URL('../../shared/fixtures/real/camelyon16/ncrf_tumor_valid_patch_centres.txt', import.meta.url),
);

export function readPatchCentres(path = PATCH_CENTRES): PatchCentre[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => {
      const [slide, x, y] = l.split(',');
      return { slide: slide!.trim(), x: Number(x), y: Number(y) };
    });
}

/**
 * A real centre as a level-0 top-left on the bench slide. Tumor_101..110 are landscape scans
 * (x up to ~157k, y up to ~98k) and the Camelyon16 geometry here is portrait (97792 x 221184), so
 * x and y are swapped (which keeps every distance between patches), then clamped inside.
 */
export function mapCentre(
  c: PatchCentre,
  size: number,
  width: number,
  height: number,
): { id: string; x: number; y: number } {
  const clamp = (v: number, max: number) => Math.max(0, Math.min(max, Math.round(v)));
  return { id: c.slide.toLowerCase(), x: clamp(c.y - size / 2, width - size), y: clamp(c.x - size / 2, height - size) };
}

/** 73 slides, as many as the annotated context-region dataset: var/bench/c73. */
export const DATASET73_SLIDES = 73;

/**
 * 73 Camelyon16-size slides for the sampling measurement: hard links to the Camelyon16-geometry
 * BigTIFF, each with a full-tissue context mask (downsample 16: parenchyma, connective tissue at
 * the rim, adipose between) and the real tumour polygons of one of the 9 annotated fixture slides
 * that fit the slide (ASAP XML). Written once; the ingest keeps it up to date incrementally.
 */
export async function ensureDataset73(tmpDir: string): Promise<{ dir: string; index: string }> {
  const { slidePath } = await ensureCamelyonData(tmpDir);
  const dir = join(BENCH_VAR, 'c73');
  for (const sub of ['slides', 'lesions', 'context']) mkdirSync(join(dir, sub), { recursive: true });
  const [W, H, D] = [CAMELYON_WIDTH, CAMELYON_HEIGHT, 16];
  const mask = join(dir, 'context', 'tissue.png');
  if (!existsSync(mask)) {
    const mw = Math.ceil(W / D);
    const mh = Math.ceil(H / D);
    const v = new Uint8Array(mw * mh);
    for (let j = 0; j < mh; j++) {
      for (let i = 0; i < mw; i++) {
        const e = ((i - mw / 2) / (mw * 0.42)) ** 2 + ((j - mh / 2) / (mh * 0.45)) ** 2;
        v[j * mw + i] = e < 0.7 ? 2 : e < 0.85 ? 4 : e < 1 ? 3 : 0;
      }
    }
    await sharp(Buffer.from(v), { raw: { width: mw, height: mh, channels: 1 } })
      .toColourspace('b-w')
      .png()
      .toFile(mask + '.tmp.png');
    renameSync(mask + '.tmp.png', mask);
  }
  const fits = (stem: string) => {
    const j = loadCamelyonJson(stem);
    return [...j.positive, ...j.negative].every((p) =>
      p.vertices.every(([x, y]) => x! >= 0 && y! >= 0 && x! < W && y! < H),
    );
  };
  const stems = [
    'Tumor_034',
    'Tumor_039',
    'Tumor_081',
    'Tumor_083',
    'Tumor_088',
    'Tumor_091',
    'Tumor_095',
    'Tumor_105',
    'Tumor_107',
  ].filter(fits);
  const xml = stems.map((s) => camelyonJsonToAsapXml(loadCamelyonJson(s)));
  for (let k = 1; k <= DATASET73_SLIDES; k++) {
    const id = `tumor_${String(k).padStart(3, '0')}`;
    hardLink(slidePath, join(dir, 'slides', `${id}.tif`));
    hardLink(mask, join(dir, 'context', `${id}_mask.png`));
    writeIfChanged(join(dir, 'lesions', `${id}.xml`), xml[k % xml.length]!);
  }
  const manifest = {
    name: 'bench-73-context-regions',
    version: '1',
    slides: { dir: 'slides' },
    labelSources: [
      { id: 'context', format: 'label-mask', dir: 'context', suffix: '_mask', downsample: D },
      { id: 'lesions', format: 'asap-xml', dir: 'lesions', classMap: { _0: 'metastasis', _1: 'metastasis', _2: null } },
    ],
  };
  writeIfChanged(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  return { dir, index: join(BENCH_VAR, 'c73.sqlite') };
}
