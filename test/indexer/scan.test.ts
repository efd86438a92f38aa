import { mkdirSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseManifest, type Manifest } from '../../src/dataset/manifest.js';
import { scanDataset } from '../../src/indexer/scan.js';
import { makeTempDir, removeTempDir } from '../support/core-fixtures.js';

let root: string;
let data: string;
const SOURCES = [
  // A TIFF mask directory inside slides/: its files are masks, not slides.
  { id: 'context', format: 'label-mask', dir: 'slides/masks', suffix: '_Mask', downsample: 16 },
  { id: 'lesions', format: 'asap-xml', dir: 'lesions' },
  { id: 'qupath', format: 'geojson', dir: 'qupath' },
  // A manifest cannot point outside the data directory.
  { id: 'outside', format: 'geojson', dir: '../elsewhere' },
];
const manifest: Manifest = parseManifest({ labelSources: SOURCES });

function touch(rel: string, content = 'x'): void {
  const path = join(data, rel);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
}

beforeAll(() => {
  root = makeTempDir('scan');
  data = join(root, 'data');
  for (const f of [
    'slides/Tumor_001.tif',
    'slides/normal_002.TIFF',
    'slides/sub/test_003.svs',
    'slides/tumor_001.svs',
    'slides/bad name.tif',
    'slides/.hidden.tif',
    'slides/readme.txt',
  ])
    touch(f);
  for (const f of [
    'slides/masks/tumor_001_mask.tif',
    'slides/masks/NORMAL_002_MASK.png',
    'lesions/TUMOR_001.xml',
    'lesions/tumor_009.xml',
    'qupath/tumor_001.json',
    'qupath/tumor_001.geojson',
    'qupath/test_003.geojson',
  ])
    touch(f);
  touch('../elsewhere/tumor_001.geojson');
  // Links as a dataset assembled on shared storage has them: absolute and relative, to files
  // outside the data directory; and the broken kinds.
  touch('../store/scanner-A/S_0004.tif', 'a slide stored elsewhere');
  touch('../store/scanner-B/S_0005.tif', 'another, longer, slide stored elsewhere');
  symlinkSync(join(root, 'store/scanner-A/S_0004.tif'), join(data, 'slides/linked_004.tif'));
  symlinkSync('../../store/scanner-B/S_0005.tif', join(data, 'slides/linked_005.tif'));
  symlinkSync(join(root, 'store/missing.tif'), join(data, 'slides/dangling_006.tif'));
  symlinkSync(join(data, 'slides/loop_b.tif'), join(data, 'slides/loop_a.tif'));
  symlinkSync(join(data, 'slides/loop_a.tif'), join(data, 'slides/loop_b.tif'));
  symlinkSync(join(root, 'store'), join(data, 'slides/store-link'));
  symlinkSync(join(root, 'store/missing.txt'), join(data, 'slides/notes.txt'));
});
afterAll(() => removeTempDir(root));

describe('scanDataset', () => {
  it('matches slides and labels by stem, case-insensitively, suffixes stripped, labels in painting order', () => {
    const { slides } = scanDataset(data, manifest);
    expect(slides.map((s) => [s.id, s.file.relPath, s.labels.map((l) => [l.position, l.relPath])])).toEqual([
      ['linked_004', 'slides/linked_004.tif', []],
      ['linked_005', 'slides/linked_005.tif', []],
      ['normal_002', 'slides/normal_002.TIFF', [[0, 'slides/masks/NORMAL_002_MASK.png']]],
      ['test_003', 'slides/sub/test_003.svs', [[2, 'qupath/test_003.geojson']]],
      [
        'tumor_001',
        'slides/tumor_001.svs',
        [
          [0, 'slides/masks/tumor_001_mask.tif'],
          [1, 'lesions/TUMOR_001.xml'],
          [2, 'qupath/tumor_001.geojson'],
        ],
      ],
    ]);
  });

  it('reports what it cannot take: bad names, duplicates, labels without a slide', () => {
    const { problems } = scanDataset(data, manifest);
    expect(problems.map((p) => [p.relPath, p.slideId, p.code]).sort()).toEqual(
      [
        ['slides/bad name.tif', null, 'BAD_SLIDE_NAME'],
        ['slides/dangling_006.tif', null, 'LINK_DANGLING'],
        ['slides/loop_a.tif', null, 'LINK_LOOP'],
        ['slides/loop_b.tif', null, 'LINK_LOOP'],
        ['slides/store-link', null, 'LINK_TO_DIRECTORY'],
        // Files are taken in localeCompare order of their paths: the later duplicate is reported.
        ['slides/Tumor_001.tif', 'tumor_001', 'DUPLICATE_SLIDE'],
        ['lesions/tumor_009.xml', null, 'LABEL_WITHOUT_SLIDE'],
        ['qupath/tumor_001.json', 'tumor_001', 'DUPLICATE_LABEL_FILE'],
      ].sort(),
    );
  });

  it("a linked slide is the file the link names: its size and time, the link's name, nothing else read", () => {
    const { slides, problems } = scanDataset(data, manifest);
    const byId = new Map(slides.map((s) => [s.id, s.file]));
    expect(byId.get('linked_004')).toMatchObject({
      absPath: join(data, 'slides/linked_004.tif'),
      size: 'a slide stored elsewhere'.length,
    });
    expect(byId.get('linked_005')!.size).toBe('another, longer, slide stored elsewhere'.length);
    // The directory link is not walked: S_0004 is not found a second time through it.
    expect(slides.map((s) => s.id)).not.toContain('s_0004');
    for (const p of problems) expect(p.detail).not.toContain(root);
  });

  it("a linked slide's input key follows its target", () => {
    const key = () => scanDataset(data, manifest).slides.find((s) => s.id === 'linked_004')!.inputKey;
    const k0 = key();
    const later = new Date(Date.now() + 20_000);
    utimesSync(join(root, 'store/scanner-A/S_0004.tif'), later, later);
    expect(key()).not.toBe(k0);
  });

  it('the input key is stable, per slide, and follows every input', () => {
    const key = (m = manifest) => new Map(scanDataset(data, m).slides.map((s) => [s.id, s.inputKey]));
    const k0 = key();
    expect(key()).toEqual(k0);
    expect(new Set(k0.values()).size).toBe(5);
    const later = new Date(Date.now() + 10_000);
    utimesSync(join(data, 'lesions/TUMOR_001.xml'), later, later);
    const k1 = key();
    expect([k1.get('tumor_001') === k0.get('tumor_001'), k1.get('normal_002') === k0.get('normal_002')]).toEqual([
      false,
      true,
    ]);
    touch('lesions/normal_002.xml');
    expect(key().get('normal_002')).not.toBe(k0.get('normal_002'));
    expect(key(parseManifest({ version: '2', labelSources: SOURCES })).get('test_003')).not.toBe(k0.get('test_003'));
  });
});
