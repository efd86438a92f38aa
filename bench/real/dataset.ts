/**
 * The real-size bench dataset under var/bench/real-v<REAL_VERSION>/ (written once, reused):
 * slides/<id>.tif (generate.ts), lesions/<id>.xml (the real Camelyon16 polygons of the slide's
 * namesake, mapped into its tissue), manifest.json, and generation.json (how long each slide took
 * and its size). A slide is complete once it has its final name (it is renamed from .partial).
 *
 * `npx tsx bench/real/dataset.ts [--verify]` generates it alone (prints time and disk used; --verify
 * reads every slide back, as each is read back right after it is written).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { camelyonJsonToAsapXml, loadCamelyonJson } from '../../test/support/camelyon-json.js';
import {
  boundingBox,
  boxMapper,
  REAL_SLIDES,
  REAL_VERSION,
  tissueBox,
  type Box,
  type RealSlideSpec,
} from './geometry.js';
import { verifyRealSlide, writeRealSlide, type WriteResult } from './generate.js';

export const REAL_DIR = resolve(`var/bench/real-v${REAL_VERSION}`);

export interface RealData {
  dir: string;
  index: string;
  slides: Array<RealSlideSpec & { path: string; bytes: number }>;
  /** Per slide: the generation time and size recorded when it was written (maybe by an earlier run). */
  generation: Record<string, WriteResult & { at: string }>;
  /** Slides written by this call. */
  writtenNow: string[];
}

const MANIFEST = {
  name: `bench-real-size-v${REAL_VERSION}`,
  version: String(REAL_VERSION),
  slides: { dir: 'slides' },
  labelSources: [
    { id: 'lesions', format: 'asap-xml', dir: 'lesions', classMap: { _0: 'metastasis', _1: 'metastasis', _2: null } },
  ],
};

/** The lesions of the slide's namesake, their box tripled around its centre, mapped into the tissue box. */
export function lesionXml(spec: RealSlideSpec): string {
  const j = loadCamelyonJson(spec.lesions);
  const [x0, y0, x1, y1] = boundingBox([...j.positive, ...j.negative].flatMap((p) => p.vertices));
  const [w, h] = [x1 - x0, y1 - y0];
  const src: Box = [x0 - w, y0 - h, x1 + w, y1 + h];
  const map = boxMapper(src, tissueBox(spec));
  const mapPolys = (ps: typeof j.positive) =>
    ps.map((p) => ({
      ...p,
      vertices: p.vertices.map(([x, y]) => map(x, y).map((v) => Math.round(v)) as [number, number]),
    }));
  return camelyonJsonToAsapXml({ positive: mapPolys(j.positive), negative: mapPolys(j.negative) });
}

function writeIfChanged(path: string, content: string): void {
  if (existsSync(path) && readFileSync(path, 'utf8') === content) return;
  writeFileSync(path, content);
}

export async function ensureRealData(log: (s: string) => void = (s) => process.stderr.write(s)): Promise<RealData> {
  for (const sub of ['slides', 'lesions']) mkdirSync(join(REAL_DIR, sub), { recursive: true });
  writeIfChanged(join(REAL_DIR, 'manifest.json'), JSON.stringify(MANIFEST, null, 2) + '\n');
  const genPath = join(REAL_DIR, 'generation.json');
  const generation = (existsSync(genPath) ? JSON.parse(readFileSync(genPath, 'utf8')) : {}) as RealData['generation'];
  // Leftovers of an interrupted run never carry a final name; remove them.
  for (const f of readdirSync(join(REAL_DIR, 'slides')))
    if (f.endsWith('.partial')) rmSync(join(REAL_DIR, 'slides', f), { force: true });
  const writtenNow: string[] = [];
  for (const spec of REAL_SLIDES) {
    writeIfChanged(join(REAL_DIR, 'lesions', `${spec.id}.xml`), lesionXml(spec));
    const path = join(REAL_DIR, 'slides', `${spec.id}.tif`);
    if (existsSync(path) && generation[spec.id]) continue;
    log(`real: writing ${spec.id} (${spec.width} x ${spec.height}) ...\n`);
    const r = await writeRealSlide(spec, path);
    const v = await verifyRealSlide(path);
    log(`real: ${spec.id}: read back, ${v.distinct} of ${v.tiles} stored tiles distinct\n`);
    generation[spec.id] = { ...r, at: new Date().toISOString() };
    writeFileSync(genPath, JSON.stringify(generation, null, 2) + '\n');
    writtenNow.push(spec.id);
    log(
      `real: ${spec.id}: ${r.tiles} tiles (${r.tissueTiles} tissue), ${(r.bytes / 2 ** 30).toFixed(2)} GiB in ${(r.ms / 1000).toFixed(0)} s\n`,
    );
  }
  const slides = REAL_SLIDES.map((s) => {
    const path = join(REAL_DIR, 'slides', `${s.id}.tif`);
    return { ...s, path, bytes: statSync(path).size };
  });
  return {
    dir: REAL_DIR,
    index: join(resolve('var/bench'), `real-v${REAL_VERSION}.sqlite`),
    slides,
    generation,
    writtenNow,
  };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const t0 = performance.now();
  ensureRealData().then(
    async (d) => {
      // --verify: read every slide back (all stored tiles hashed) even when it was written earlier.
      if (process.argv.includes('--verify'))
        for (const s of d.slides) {
          const v = await verifyRealSlide(s.path);
          process.stdout.write(`real: ${s.id}: ${v.distinct} of ${v.tiles} stored tiles distinct\n`);
        }
      const bytes = d.slides.reduce((a, s) => a + s.bytes, 0);
      const genS = Object.values(d.generation).reduce((a, g) => a + g.ms / 1000, 0);
      process.stdout.write(
        `real: ${d.slides.length} slides, ${(bytes / 2 ** 30).toFixed(2)} GiB on disk in ${d.dir}; generation ${genS.toFixed(0)} s in all (this call ${((performance.now() - t0) / 1000).toFixed(0)} s)\n`,
      );
    },
    (e: unknown) => {
      process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
      process.exit(1);
    },
  );
}
