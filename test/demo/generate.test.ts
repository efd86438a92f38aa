import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import taxonomy from '../../src/dataset/default-taxonomy.json' with { type: 'json' };
import { buildDemoScenes, generateDemo, type DemoResult } from '../../src/demo/generate.js';
import { labelMask, maskSize } from '../../src/demo/labels.js';
import { splitAtMetastasis } from '../../src/demo/slide-labels.js';
import { CLASS } from '../../src/demo/taxonomy.js';
import { foldContrast, lumaStd, meanRgb, pointInside, readTiffStructure } from '../support/demo-read.js';

const SCALE = 0.1;
const root = mkdtempSync(join(tmpdir(), 'demo-test-'));
const dirA = join(root, 'a');
const dirB = join(root, 'b');
const dirC = join(root, 'c');
let a: DemoResult;
const progress: Array<{ step: string; done: number; total: number }> = [];
const scenes = buildDemoScenes({ seed: 1, scale: SCALE });
const read = (dir: string, rel: string): Buffer => readFileSync(join(dir, rel));

beforeAll(async () => {
  // A stale dataset in the way must be replaced whole.
  mkdirSync(dirB, { recursive: true });
  writeFileSync(join(dirB, 'stale.txt'), 'old');
  a = await generateDemo({ outDir: dirA, seed: 1, scale: SCALE, onProgress: (p) => progress.push(p) });
  await generateDemo({ outDir: dirB, seed: 1, scale: SCALE });
  await generateDemo({ outDir: dirC, seed: 2, scale: SCALE });
  if (process.env['DEMO_THUMBS']) {
    for (const s of a.slides) await sharp(s.file, { page: 2 }).png().toFile(`/tmp/demo-thumb-${s.id}.png`);
  }
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('generateDemo: files and manifest', () => {
  it('writes three slides and every label file, and nothing half-written', () => {
    expect(a.slides.map((s) => s.id)).toEqual(['tumor_001', 'tumor_002', 'tumor_003']);
    for (const rel of [
      'slides/tumor_001.tif',
      'slides/tumor_002.tif',
      'slides/tumor_003.tif',
      'manifest.json',
      'README.txt',
      'masks/labels/tumor_001_mask.png',
      'annotations/lesions/tumor_001.xml',
      'annotations/geojson/tumor_002.geojson',
      'masks/color/tumor_003_color.png',
      'annotations/context-xml/tumor_003.xml',
    ])
      expect(existsSync(join(dirA, rel)), rel).toBe(true);
    expect(existsSync(join(dirB, 'stale.txt'))).toBe(false);
    expect(readdirSync(root).sort()).toEqual(['a', 'b', 'c']);
    expect(a.manifestPath).toBe(join(dirA, 'manifest.json'));
    expect(a.ms).toBeGreaterThan(0);
    expect(read(dirA, 'README.txt').toString()).toMatch(/generated.*seed 1, scale 0\.1/is);
  });

  it('writes the manifest schema the dataset loader reads', () => {
    const m = JSON.parse(read(dirA, 'manifest.json').toString()) as Record<string, unknown>;
    expect(m).toEqual({
      name: 'camelyon16-context-demo',
      version: 'demo-seed-1',
      description: expect.stringMatching(/^Generated Camelyon16-like slides/) as unknown,
      slides: { dir: 'slides' },
      taxonomy,
      labelDownsample: 4,
      labelSources: [
        { id: 'context-masks', format: 'label-mask', dir: 'masks/labels', suffix: '_mask', downsample: 16 },
        { id: 'context-colour-masks', format: 'color-mask', dir: 'masks/color', suffix: '_color', downsample: 16 },
        { id: 'context-geojson', format: 'geojson', dir: 'annotations/geojson' },
        { id: 'context-xml', format: 'asap-xml', dir: 'annotations/context-xml' },
        {
          id: 'lesions',
          format: 'asap-xml',
          dir: 'annotations/lesions',
          classMap: { _0: 'metastasis', _1: 'metastasis', Tumor: 'metastasis', _2: null, Exclusion: null },
        },
      ],
    });
  });

  it('reports progress per slide step, in order', () => {
    const steps = progress.map((p) => p.step);
    expect(steps.slice(0, 4)).toEqual(['tumor_001: scene', 'tumor_001: mask', 'tumor_001: pixels', 'tumor_001: write']);
    expect(steps.at(-1)).toBe('done');
    expect(progress.map((p) => p.done)).toEqual(progress.map((_, i) => i));
    expect(new Set(progress.map((p) => p.total))).toEqual(new Set([13]));
  });
});

describe('generateDemo: TIFF structure (read with geotiff)', () => {
  it.each([0, 1, 2])('slide %i is a Camelyon16-style pyramidal BigTIFF', async (k) => {
    const slide = a.slides[k]!;
    const t = await readTiffStructure(slide.file);
    expect(t.bigTiff).toBe(true);
    expect(t.levels.length).toBeGreaterThanOrEqual(3);
    expect(t.levels[0]).toMatchObject({ width: slide.width, height: slide.height, newSubfileType: 0 });
    // Pixels per cm, as Camelyon16 stores it: mpp = 10000 / XResolution.
    expect(10000 / t.levels[0]!.xResolution).toBeCloseTo(slide.mpp, 4);
    t.levels.forEach((l, i) => {
      expect(l).toMatchObject({ tileWidth: 512, tileHeight: 512, compression: 7, resolutionUnit: 3 });
      if (i > 0) {
        expect(l.newSubfileType).toBe(1);
        expect([l.width, l.height]).toEqual([
          Math.floor(t.levels[i - 1]!.width / 2),
          Math.floor(t.levels[i - 1]!.height / 2),
        ]);
      }
    });
    const last = t.levels.at(-1)!;
    expect(Math.max(last.width, last.height)).toBeLessThanOrEqual(512);
  });
});

describe('generateDemo: determinism', () => {
  const files = [
    'manifest.json',
    'masks/labels/tumor_001_mask.png',
    'masks/color/tumor_003_color.png',
    'annotations/lesions/tumor_001.xml',
    'annotations/geojson/tumor_002.geojson',
    'annotations/context-xml/tumor_003.xml',
  ];

  it('gives identical labels for the same seed', () => {
    for (const f of files) expect(read(dirB, f).equals(read(dirA, f)), f).toBe(true);
  });

  it('gives a different dataset for another seed', () => {
    expect(JSON.parse(read(dirC, 'manifest.json').toString()).version).toBe('demo-seed-2');
    for (const f of files.slice(1)) expect(read(dirC, f).equals(read(dirA, f)), f).toBe(false);
  });

  it('buildDemoScenes reproduces the scenes the files were drawn from', async () => {
    const [s1] = scenes;
    const mask = labelMask(s1!, splitAtMetastasis(s1!)[0]);
    const file = join(dirA, 'masks/labels/tumor_001_mask.png');
    expect((await sharp(file).metadata()).channels).toBe(1);
    const data = await sharp(file).extractChannel(0).raw().toBuffer();
    expect(Buffer.from(mask.values).equals(data)).toBe(true);
  });
});

describe('generateDemo: label files', () => {
  const xml = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: '',
    isArray: (n) => ['Annotation', 'Coordinate', 'Group'].includes(n),
  });
  type AsapDoc = {
    ASAP_Annotations: {
      Annotations: {
        Annotation: Array<{
          Name: string;
          Type: string;
          PartOfGroup: string;
          Coordinates: { Coordinate: Array<{ Order: string; X: string; Y: string }> };
        }>;
      };
      AnnotationGroups: { Group: Array<{ Name: string }> };
    };
  };
  const parseAsap = (rel: string): AsapDoc => xml.parse(read(dirA, rel).toString()) as AsapDoc;
  const names = new Set(taxonomy.map((t) => t.name));

  it('writes the tumour outlines as Camelyon16 lesion XML, holes in group _2', () => {
    const doc = parseAsap('annotations/lesions/tumor_001.xml').ASAP_Annotations;
    expect(doc.AnnotationGroups.Group.map((g) => g.Name)).toEqual(['_0', '_1', '_2']);
    const tumours = scenes[0]!.shapes.filter((s) => s.value === CLASS.metastasis);
    const holes = tumours.reduce((n, s) => n + s.rings.length - 1, 0);
    expect(holes).toBeGreaterThan(50); // Tumor_034: one tumour with ~90 holes
    const anns = doc.Annotations.Annotation;
    expect(anns.filter((x) => x.PartOfGroup === '_0')).toHaveLength(tumours.length);
    expect(anns.filter((x) => x.PartOfGroup === '_2')).toHaveLength(holes);
    expect(anns[0]!.Type).toBe('Polygon');
    const first = anns[0]!.Coordinates.Coordinate;
    expect(first.map((c) => [Number(c.X), Number(c.Y)]).flat()).toEqual([...tumours[0]!.rings[0]!]);
  });

  it('writes a QuPath GeoJSON with every class of tumor_002, holes as rings', () => {
    const fc = JSON.parse(read(dirA, 'annotations/geojson/tumor_002.geojson').toString()) as {
      type: string;
      features: Array<{
        geometry: { type: string; coordinates: number[][][] | number[][][][] };
        properties: { objectType: string; classification: { name: string; color: number[] } };
      }>;
    };
    expect(fc.type).toBe('FeatureCollection');
    const classes = new Set(fc.features.map((f) => f.properties.classification.name));
    expect([...classes].sort()).toEqual([...names].filter((n) => n !== 'unlabelled').sort());
    for (const f of fc.features) {
      expect(f.properties.objectType).toBe('annotation');
      expect(f.properties.classification.color).toHaveLength(3);
      const polygons = (
        f.geometry.type === 'Polygon' ? [f.geometry.coordinates] : f.geometry.coordinates
      ) as number[][][][];
      for (const ring of polygons.flat()) expect(ring[0]).toEqual(ring.at(-1));
    }
    const tumour = fc.features.find((f) => f.properties.classification.name === 'metastasis')!;
    const rings = (
      tumour.geometry.type === 'Polygon' ? [tumour.geometry.coordinates] : tumour.geometry.coordinates
    ) as number[][][][];
    expect(rings.some((p) => p.length > 1)).toBe(true);
    expect(fc.features.some((f) => f.geometry.type === 'MultiPolygon')).toBe(true);
  });

  it('writes tumor_003 artefacts and tumours as ASAP XML grouped by class name', () => {
    const doc = parseAsap('annotations/context-xml/tumor_003.xml').ASAP_Annotations;
    const groups = doc.AnnotationGroups.Group.map((g) => g.Name);
    expect(groups).toEqual(expect.arrayContaining(['metastasis', 'fold', 'ink', 'blur', 'bubble-debris']));
    for (const g of groups) expect(names.has(g)).toBe(true);
    for (const ann of doc.Annotations.Annotation) expect(groups).toContain(ann.PartOfGroup);
  });

  it('writes lossless masks at downsample 16 with values from the taxonomy', async () => {
    const [s1, , s3] = scenes;
    const labelFile = join(dirA, 'masks/labels/tumor_001_mask.png');
    expect(await sharp(labelFile).metadata()).toMatchObject({ ...maskSize(s1!), channels: 1, format: 'png' });
    const label = await sharp(labelFile).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
    expect(label.info.width).toBe(Math.ceil(s1!.width / 16));
    const values = new Set(label.data);
    expect([...values].sort()).toEqual([
      0,
      CLASS.parenchyma,
      CLASS.adipose,
      CLASS.connective,
      CLASS.fold,
      CLASS.ink,
      CLASS.blur,
      CLASS.bubbleDebris,
    ]);
    const colour = await sharp(join(dirA, 'masks/color/tumor_003_color.png'))
      .raw()
      .toBuffer({ resolveWithObject: true });
    expect(colour.info).toMatchObject({ ...maskSize(s3!), channels: 3 });
    const palette = new Set(['#000000', ...taxonomy.map((t) => t.color)]);
    for (let i = 0; i < colour.data.length; i += 3) {
      const hex = `#${[0, 1, 2].map((c) => colour.data[i + c]!.toString(16).padStart(2, '0')).join('')}`;
      if (!palette.has(hex)) throw new Error(`colour ${hex} at pixel ${i / 3} is not a taxonomy colour`);
    }
  });
});

describe('generateDemo: pixels agree with the labels', () => {
  /** Mean colour around a point inside the class: `size` pixels of level `page`, wholly inside. */
  const rgbAt = (k: number, value: number, page: number, size: number, name?: string) => {
    const [x, y] = pointInside(scenes[k]!, value, (size / 2 + 1) * 2 ** page, name);
    return meanRgb(a.slides[k]!.file, page, x, y, size);
  };
  const luma = ([r, g, b]: number[]) => 0.299 * r! + 0.587 * g! + 0.114 * b!;

  it.each([0, 1, 2])('slide %i: glass is near white, tissue is not, ink is blue', async (k) => {
    const glass = await meanRgb(a.slides[k]!.file, 2, 40, 40, 8);
    expect(Math.min(...glass)).toBeGreaterThan(225);
    const tissue = await rgbAt(k, CLASS.parenchyma, 2, 8, 'lymph node');
    expect(luma(tissue)).toBeLessThan(190);
    expect(tissue[2]).toBeGreaterThan(tissue[1]); // purple: more blue than green
    const ink = await rgbAt(k, CLASS.ink, 1, 6);
    expect(ink[2]).toBeGreaterThan(ink[0] + 40);
    expect(ink[2]).toBeGreaterThan(ink[1] + 30);
  });

  it.each([0, 1, 2])('slide %i: metastasis is pinker than the node, a fold darker', async (k) => {
    const node = await rgbAt(k, CLASS.parenchyma, 2, 8, 'lymph node');
    const tumour = await rgbAt(k, CLASS.metastasis, 1, 6);
    expect(tumour[0] - tumour[2]).toBeGreaterThan(node[0] - node[2] + 10);
    // A fold darkens the tissue it lies on, whichever that is.
    const { fold, beside } = await foldContrast(scenes[k]!, a.slides[k]!.file);
    expect(fold).toBeLessThan(beside - 15);
  });

  it('a blurred region is smoother than sharp tissue', async () => {
    const scene = scenes[1]!;
    const file = a.slides[1]!.file;
    const [bx, by] = pointInside(scene, CLASS.blur, 30);
    const [px, py] = pointInside(scene, CLASS.parenchyma, 30, 'lymph node');
    expect(await lumaStd(file, bx, by, 40)).toBeLessThan((await lumaStd(file, px, py, 40)) * 0.6);
  });
});

describe('generateDemo: output location', () => {
  it('leaves the parent of outDir holding only finished datasets', () => {
    expect(readdirSync(dirname(dirA)).filter((n) => n.includes('.tmp-') || n.includes('.old-'))).toEqual([]);
  });
});
