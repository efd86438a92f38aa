/**
 * A data directory for end-to-end ingest tests: copies of the real fixture slides plus small
 * Camelyon16-like slides written by sharp, labelled in all four formats (ASAP XML from the real
 * Camelyon16 polygons, GeoJSON, a label mask and a colour mask), with a manifest. Every label
 * is also returned in the brute-force reference form, so tests can compute what the index must hold.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import type { LabelShape } from '../../src/labels/shapes.js';
import { camelyonJsonToAsapXml, loadCamelyonJson, type CamelyonPolygonsJson } from './camelyon-json.js';
import { REAL_SLIDES, copyReal, writeSlide } from './core-fixtures.js';
import type { RefSource } from './core-raster.js';

export interface GeneratedSlide {
  id: string;
  width: number;
  height: number;
  /** The slide's label sources in painting order, as the brute-force reference takes them. */
  reference: RefSource[];
}

export interface DatasetOptions {
  /** Copy the 7 real fixture slides into slides/ (default true). */
  real?: boolean;
  /** Level-0 pixels per raster pixel for vector labels (default 4). */
  labelDownsample?: number;
}

export const CONTEXT_DOWNSAMPLE = 16;
export const PAINT_DOWNSAMPLE = 8;

/** Painting order: context mask, Camelyon16 lesions, QuPath artefacts, painted artefacts. */
export function manifestJson(labelDownsample = 4): object {
  return {
    name: 'core-test',
    version: '1',
    labelDownsample,
    labelSources: [
      { id: 'context', format: 'label-mask', dir: 'labels/context', suffix: '_mask', downsample: CONTEXT_DOWNSAMPLE },
      {
        id: 'lesions',
        format: 'asap-xml',
        dir: 'labels/lesions',
        classMap: { _0: 'metastasis', _1: 'metastasis', _2: null },
      },
      { id: 'artefacts', format: 'geojson', dir: 'labels/artefacts' },
      { id: 'paint', format: 'color-mask', dir: 'labels/paint', downsample: PAINT_DOWNSAMPLE },
    ],
  };
}

export async function buildDataset(dir: string, opts: DatasetOptions = {}): Promise<GeneratedSlide[]> {
  mkdirSync(join(dir, 'slides'), { recursive: true });
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifestJson(opts.labelDownsample)));
  if (opts.real ?? true) for (const f of REAL_SLIDES) copyReal(f, join(dir, 'slides', f));
  // File names in both cases, as in the wild: matching is by stem, case-insensitively.
  const a = { id: 'tumor_083', width: 3000, height: 2400 };
  const b = { id: 'tumor_107', width: 2600, height: 2000 };
  await writeSlide(join(dir, 'slides', 'Tumor_083.tif'), { ...a, mpp: 0.243, seed: 83 });
  await writeSlide(join(dir, 'slides', 'tumor_107.tif'), { ...b, mpp: 0.226, seed: 107 });
  await writeSlide(join(dir, 'slides', 'normal_001.tif'), { width: 1800, height: 1500, mpp: 0.243, seed: 1 });
  const context = await writeContextMask(dir, 'Tumor_083_mask.png', a);
  const lesions = writeLesions(dir, 'Tumor_083', a);
  const artefacts = writeArtefacts(dir, 'tumor_083.geojson', a);
  const paint = await writePaint(dir, 'tumor_083.png', a);
  const contextB = await writeContextMask(dir, 'tumor_107_mask.png', b);
  const lesionsB = writeLesions(dir, 'Tumor_107', b);
  return [
    { ...a, reference: [context, lesions, artefacts, paint] },
    { ...b, reference: [contextB, lesionsB] },
  ];
}

/** The real Camelyon16 polygons of `stem`, scaled into the slide on a 1/4-pixel grid, as ASAP XML. */
export function writeLesions(dir: string, stem: string, slide: { width: number; height: number }): RefSource {
  const json = fitInto(loadCamelyonJson(stem), slide);
  mkdirSync(join(dir, 'labels/lesions'), { recursive: true });
  writeFileSync(join(dir, 'labels/lesions', `${stem}.xml`), camelyonJsonToAsapXml(json));
  const ring = (v: Array<[number, number]>) => Float64Array.from(v.flat());
  const shapes: LabelShape[] = [
    ...json.positive.map((p) => ({ value: 1, name: p.name, rings: [ring(p.vertices)] })),
    ...json.negative.map((p) => ({ value: null, name: p.name, rings: [ring(p.vertices)] })),
  ];
  return { kind: 'vector', shapes };
}

function fitInto(json: CamelyonPolygonsJson, slide: { width: number; height: number }): CamelyonPolygonsJson {
  const all = [...json.positive, ...json.negative].flatMap((p) => p.vertices);
  const x0 = Math.min(...all.map((v) => v[0]));
  const y0 = Math.min(...all.map((v) => v[1]));
  const bw = Math.max(...all.map((v) => v[0])) - x0;
  const bh = Math.max(...all.map((v) => v[1])) - y0;
  const s = Math.min((slide.width * 0.8) / bw, (slide.height * 0.8) / bh);
  const q = (v: number) => Math.round(v * 4) / 4;
  const move = (p: { name: string; vertices: Array<[number, number]> }) => ({
    name: p.name,
    vertices: p.vertices.map(
      ([x, y]) => [q(slide.width * 0.1 + (x - x0) * s), q(slide.height * 0.1 + (y - y0) * s)] as [number, number],
    ),
  });
  return { positive: json.positive.map(move), negative: json.negative.map(move) };
}

/** A fold (a slanted quad) and ink with a hole, in QuPath GeoJSON. */
function writeArtefacts(dir: string, name: string, slide: { width: number; height: number }): RefSource {
  const { width: w, height: h } = slide;
  // On the 1/4-pixel grid, so the exact brute-force reference applies.
  const p = (x: number, y: number): [number, number] => [Math.round(x * 4) / 4, Math.round(y * 4) / 4];
  const fold = [p(w * 0.05, h * 0.6), p(w * 0.5, h * 0.55), p(w * 0.55, h * 0.62), p(w * 0.1, h * 0.7)];
  const ink = [p(w * 0.7, h * 0.7), p(w * 0.95, h * 0.7), p(w * 0.95, h * 0.98), p(w * 0.7, h * 0.98)];
  const inkHole = [p(w * 0.78, h * 0.78), p(w * 0.85, h * 0.78), p(w * 0.85, h * 0.9)];
  const feature = (id: string, cls: string, rings: Array<Array<[number, number]>>) => ({
    type: 'Feature',
    id,
    geometry: { type: 'Polygon', coordinates: rings.map((r) => [...r, r[0]!]) },
    properties: { objectType: 'annotation', classification: { name: cls, color: [0, 0, 0] } },
  });
  mkdirSync(join(dir, 'labels/artefacts'), { recursive: true });
  writeFileSync(
    join(dir, 'labels/artefacts', name),
    JSON.stringify({
      type: 'FeatureCollection',
      features: [feature('f1', 'fold', [fold]), feature('i1', 'Ink', [ink, inkHole])],
    }),
  );
  const ring = (v: Array<[number, number]>) => Float64Array.from(v.flat());
  return {
    kind: 'vector',
    shapes: [
      { value: 5, name: 'f1', rings: [ring(fold)] },
      { value: 6, name: 'i1', rings: [ring(ink), ring(inkHole)] },
    ],
  };
}

/** Connective tissue on the left third, an adipose disc, glass (0) elsewhere; 8-bit grey PNG. */
export async function writeContextMask(
  dir: string,
  name: string,
  slide: { width: number; height: number },
  size?: [number, number],
): Promise<RefSource> {
  const width = size?.[0] ?? Math.ceil(slide.width / CONTEXT_DOWNSAMPLE);
  const height = size?.[1] ?? Math.ceil(slide.height / CONTEXT_DOWNSAMPLE);
  const values = new Uint8Array(width * height);
  for (let j = 0; j < height; j++) {
    for (let i = 0; i < width; i++) {
      const disc = (i - width * 0.6) ** 2 + (j - height * 0.4) ** 2 < (height * 0.25) ** 2;
      values[j * width + i] = disc ? 3 : i < width / 3 ? 4 : 0;
    }
  }
  mkdirSync(join(dir, 'labels/context'), { recursive: true });
  await sharp(Buffer.from(values), { raw: { width, height, channels: 1 } })
    .toColourspace('b-w')
    .png()
    .toFile(join(dir, 'labels/context', name));
  return { kind: 'mask', values, width, height, downsample: CONTEXT_DOWNSAMPLE };
}

/** Bubbles (#ff7f0e, class 8) and blur (#17becf, class 7) painted as a lossless colour mask. */
async function writePaint(dir: string, name: string, slide: { width: number; height: number }): Promise<RefSource> {
  const width = Math.ceil(slide.width / PAINT_DOWNSAMPLE);
  const height = Math.ceil(slide.height / PAINT_DOWNSAMPLE);
  const values = new Uint8Array(width * height);
  const rgb = Buffer.alloc(width * height * 3);
  for (let j = 0; j < height; j++) {
    for (let i = 0; i < width; i++) {
      const bubble = (i - width * 0.3) ** 2 + (j - height * 0.3) ** 2 < (height * 0.08) ** 2;
      const blur = i > width * 0.4 && i < width * 0.6 && j > height * 0.85;
      const v = bubble ? 8 : blur ? 7 : 0;
      values[j * width + i] = v;
      rgb.set(v === 8 ? [0xff, 0x7f, 0x0e] : v === 7 ? [0x17, 0xbe, 0xcf] : [0, 0, 0], (j * width + i) * 3);
    }
  }
  mkdirSync(join(dir, 'labels/paint'), { recursive: true });
  await sharp(rgb, { raw: { width, height, channels: 3 } })
    .png()
    .toFile(join(dir, 'labels/paint', name));
  return { kind: 'mask', values, width, height, downsample: PAINT_DOWNSAMPLE };
}
