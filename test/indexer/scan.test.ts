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
  for (const f of ['slides/Tumor_001.tif', 'slides/normal_002.TIFF', 'slides/sub/test_003.svs', 'slides/tumor_001.svs', 'slides/bad name.tif', 'slides/.hidden.tif', 'slides/readme.txt']) touch(f);
  for (const f of ['slides/masks/tumor_001_mask.tif', 'slides/masks/NORMAL_002_MASK.png', 'lesions/TUMOR_001.xml', 'lesions/tumor_009.xml', 'qupath/tumor_001.json', 'qupath/tumor_001.geojson', 'qupath/test_003.geojson']) touch(f);
  touch('../elsewhere/tumor_001.geojson');
  symlinkSync(join(data, 'slides/Tumor_001.tif'), join(data, 'slides/linked_004.tif'));
});
afterAll(() => removeTempDir(root));

describe('scanDataset', () => {
  it('matches slides and labels by stem, case-insensitively, suffixes stripped, labels in painting order', () => {
    const { slides } = scanDataset(data, manifest);
    expect(slides.map((s) => [s.id, s.file.relPath, s.labels.map((l) => [l.position, l.relPath])])).toEqual([
      ['normal_002', 'slides/normal_002.TIFF', [[0, 'slides/masks/NORMAL_002_MASK.png']]],
      ['test_003', 'slides/sub/test_003.svs', [[2, 'qupath/test_003.geojson']]],
      ['tumor_001', 'slides/tumor_001.svs', [[0, 'slides/masks/tumor_001_mask.tif'], [1, 'lesions/TUMOR_001.xml'], [2, 'qupath/tumor_001.geojson']]],
    ]);
  });

  it('reports what it cannot take: bad names, duplicates, labels without a slide', () => {
    const { problems } = scanDataset(data, manifest);
    expect(problems.map((p) => [p.relPath, p.slideId, p.code])).toEqual([
      ['slides/bad name.tif', null, 'BAD_SLIDE_NAME'],
      // Files are taken in localeCompare order of their paths: the later duplicate is reported.
      ['slides/Tumor_001.tif', 'tumor_001', 'DUPLICATE_SLIDE'],
      ['lesions/tumor_009.xml', null, 'LABEL_WITHOUT_SLIDE'],
      ['qupath/tumor_001.json', 'tumor_001', 'DUPLICATE_LABEL_FILE'],
    ]);
  });

  it('the input key is stable, per slide, and follows every input', () => {
    const key = (m = manifest) => new Map(scanDataset(data, m).slides.map((s) => [s.id, s.inputKey]));
    const k0 = key();
    expect(key()).toEqual(k0);
    expect(new Set(k0.values()).size).toBe(3);
    const later = new Date(Date.now() + 10_000);
    utimesSync(join(data, 'lesions/TUMOR_001.xml'), later, later);
    const k1 = key();
    expect([k1.get('tumor_001') === k0.get('tumor_001'), k1.get('normal_002') === k0.get('normal_002')]).toEqual([false, true]);
    touch('lesions/normal_002.xml');
    expect(key().get('normal_002')).not.toBe(k0.get('normal_002'));
    expect(key(parseManifest({ version: '2', labelSources: SOURCES })).get('test_003')).not.toBe(k0.get('test_003'));
  });
});
