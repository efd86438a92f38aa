/**
 * Generates a Camelyon16-like dataset, deterministic for a seed: pyramidal BigTIFF slides of a
 * lymph node with real Camelyon16 tumour outlines and artefacts, their labels in every format the
 * readers take (label mask, colour mask, GeoJSON, ASAP XML), a manifest and a README.
 *
 * Everything is written into `outDir.tmp-<pid>` and renamed into place at the end, so a
 * half-written dataset never exists under `outDir`.
 */
import { existsSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { MASK_DOWNSAMPLE } from './labels.js';
import { demoManifest, demoReadme, type TumourSource } from './manifest.js';
import { slidePipeline } from './pixels.js';
import { defaultPolygonsDir, generatedTumours, loadTumourPolygons, type TumourPolygonSet } from './polygons.js';
import { createRng, hashString } from './random.js';
import { buildScene, type Scene } from './scene.js';
import { writeSlideLabels } from './slide-labels.js';
import { slideSpecs, type SlideSpec } from './slides.js';
import { makeTextures } from './textures.js';

export interface DemoOptions {
  outDir: string;
  /** Default 1. */
  seed?: number;
  /** 1 = default sizes (tumor_001 is 36864 x 20480); tests use e.g. 0.1. */
  scale?: number;
  /** Directory of Camelyon16 outline JSON files; default ../shared/fixtures/real/camelyon16/tumor-polygons. */
  polygonsDir?: string;
  onProgress?: (p: { step: string; done: number; total: number }) => void;
}

export interface DemoResult {
  outDir: string;
  /** `file` is the absolute path of the slide under outDir. */
  slides: Array<{ id: string; file: string; width: number; height: number; mpp: number }>;
  manifestPath: string;
  ms: number;
}

/** Steps per slide, in order, as reported to onProgress (as "<slide id>: <step>"). */
export const SLIDE_STEPS = ['scene', 'mask', 'pixels', 'write'] as const;

/**
 * The scenes of the demo for a seed and scale, exactly as generateDemo draws them: the ground
 * truth to compare ingested labels with, without writing any pixels.
 */
export function buildDemoScenes(opts: { seed?: number; scale?: number; polygonsDir?: string } = {}): Scene[] {
  const seed = opts.seed ?? 1;
  return slideSpecs(opts.scale ?? 1).map(
    (spec) => sceneFor(spec, seed, opts.polygonsDir ?? defaultPolygonsDir()).scene,
  );
}

function sceneFor(spec: SlideSpec, seed: number, polygonsDir: string): { scene: Scene; tumours: TumourPolygonSet } {
  // Each slide draws from its own generator, so slides never shift one another's randomness.
  const rng = createRng(seed ^ hashString(spec.id));
  const tumours = loadTumourPolygons(polygonsDir, spec.polygonFile) ?? generatedTumours(rng.fork('fallback tumours'));
  return { scene: buildScene(spec, rng.fork('scene'), tumours), tumours };
}

export async function generateDemo(opts: DemoOptions): Promise<DemoResult> {
  const started = performance.now();
  const seed = opts.seed ?? 1;
  const scale = opts.scale ?? 1;
  const specs = slideSpecs(scale);
  const polygonsDir = opts.polygonsDir ?? defaultPolygonsDir();
  const tmp = `${opts.outDir}.tmp-${process.pid}`;
  const total = specs.length * SLIDE_STEPS.length + 1;
  let done = 0;
  const step = (name: string): void => opts.onProgress?.({ step: name, done: done++, total });

  // libvips already uses every core for one slide; more threads than cores only add contention.
  const previousConcurrency = sharp.concurrency();
  sharp.concurrency(Math.min(2, availableParallelism()));
  rmSync(tmp, { recursive: true, force: true });
  try {
    for (const dir of [
      'slides',
      'masks/labels',
      'masks/color',
      'annotations/lesions',
      'annotations/geojson',
      'annotations/context-xml',
    ]) {
      mkdirSync(join(tmp, dir), { recursive: true });
    }
    const textures = makeTextures(createRng(seed ^ hashString('textures')));
    const slides: DemoResult['slides'] = [];
    const sources: TumourSource[] = [];
    for (const spec of specs) {
      step(`${spec.id}: scene`);
      const { scene, tumours } = sceneFor(spec, seed, polygonsDir);
      step(`${spec.id}: mask`);
      await writeSlideLabels(tmp, scene, spec.layout);
      step(`${spec.id}: pixels`);
      const pipeline = await slidePipeline(scene, textures, seed);
      step(`${spec.id}: write`);
      const rel = join('slides', `${spec.id}.tif`);
      await pipeline.toFile(join(tmp, rel));
      slides.push({ id: spec.id, file: join(opts.outDir, rel), width: spec.width, height: spec.height, mpp: spec.mpp });
      sources.push({ id: spec.id, source: tumours.source, dropped: tumours.dropped });
    }
    step('manifest');
    writeFileSync(join(tmp, 'manifest.json'), `${JSON.stringify(demoManifest(seed), null, 2)}\n`);
    writeFileSync(
      join(tmp, 'README.txt'),
      demoReadme({ seed, scale, slides, sources, maskDownsample: MASK_DOWNSAMPLE }),
    );
    swapIntoPlace(tmp, opts.outDir);
    opts.onProgress?.({ step: 'done', done: total, total });
    return {
      outDir: opts.outDir,
      slides,
      manifestPath: join(opts.outDir, 'manifest.json'),
      ms: Math.round(performance.now() - started),
    };
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  } finally {
    sharp.concurrency(previousConcurrency);
  }
}

/** Replaces outDir by the finished tmp directory (renames are atomic on one filesystem). */
function swapIntoPlace(tmp: string, outDir: string): void {
  mkdirSync(dirname(outDir), { recursive: true });
  if (!existsSync(outDir)) {
    renameSync(tmp, outDir);
    return;
  }
  if (!statSync(outDir).isDirectory()) throw new Error(`${outDir} exists and is not a directory`);
  const old = `${outDir}.old-${process.pid}`;
  rmSync(old, { recursive: true, force: true });
  renameSync(outDir, old);
  renameSync(tmp, outDir);
  rmSync(old, { recursive: true, force: true });
}
