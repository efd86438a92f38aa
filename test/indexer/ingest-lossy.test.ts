/**
 * Real-data layouts end to end: a JPEG colour mask (as some annotation tools export them) with a
 * `tolerance` is indexed and its unmatched pixels reported; without one it is refused; slides that
 * are symbolic links into other storage are indexed under the links' names.
 */
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest } from '../../src/indexer/ingest.js';
import { makeTempDir, removeTempDir, writeSlide } from '../support/core-fixtures.js';
import { problemRows, slideRows, withIndex } from '../support/core-index.js';

let root: string;
let data: string;
const SLIDE = { width: 800, height: 640 };
const DOWNSAMPLE = 8;

function writeManifest(tolerance?: number): void {
  const source = {
    id: 'paint',
    format: 'color-mask',
    dir: 'paint',
    downsample: DOWNSAMPLE,
    ...(tolerance === undefined ? {} : { tolerance }),
  };
  writeFileSync(join(data, 'manifest.json'), JSON.stringify({ name: 'lossy', version: '1', labelSources: [source] }));
}

beforeAll(async () => {
  root = makeTempDir('lossy');
  data = join(root, 'data');
  // The slides live elsewhere; the data directory only links to them.
  await writeSlide(join(root, 'store/scan-0001.tif'), { ...SLIDE, mpp: 0.25, seed: 3 });
  await writeSlide(join(root, 'store/scan-0002.tif'), { ...SLIDE, mpp: 0.25, seed: 4 });
  mkdirSync(join(data, 'slides'), { recursive: true });
  symlinkSync(join(root, 'store/scan-0001.tif'), join(data, 'slides/tumor_001.tif'));
  symlinkSync('../../store/scan-0002.tif', join(data, 'slides/normal_002.tif'));
  symlinkSync(join(root, 'store/gone.tif'), join(data, 'slides/tumor_003.tif'));
  // Metastasis (#d62728) on the left half, adipose (#f2c12e) on the right with metastasis stripes
  // 3 px wide (a fine annotation), saved as JPEG.
  const w = SLIDE.width / DOWNSAMPLE;
  const h = SLIDE.height / DOWNSAMPLE;
  const rgb = Buffer.alloc(w * h * 3);
  for (let p = 0; p < w * h; p++)
    rgb.set(p % w < w / 2 || (p % w) % 12 < 3 ? [0xd6, 0x27, 0x28] : [0xf2, 0xc1, 0x2e], p * 3);
  mkdirSync(join(data, 'paint'), { recursive: true });
  await sharp(rgb, { raw: { width: w, height: h, channels: 3 } })
    .jpeg({ quality: 60 })
    .toFile(join(data, 'paint/tumor_001.jpg'));
});
afterAll(() => removeTempDir(root));

const codes = (r: { problems: Array<{ relPath: string; code: string }> }) =>
  r.problems.map((p) => [p.relPath, p.code]).sort();

describe('ingest: linked slides and a lossy colour mask', () => {
  it('without a tolerance the JPEG mask is refused (MASK_LOSSY); the linked slides are indexed, the dangling link reported', async () => {
    writeManifest();
    const index = join(root, 'strict.sqlite');
    const r = await ingest({ dataDir: data, indexPath: index });
    expect(codes(r)).toEqual([
      ['slides/tumor_001.tif', 'MASK_LOSSY'],
      ['slides/tumor_003.tif', 'LINK_DANGLING'],
    ]);
    expect(r.indexed).toEqual(['normal_002']);
    expect(slideRows(index).get('normal_002')).toMatchObject({
      rel_path: 'slides/normal_002.tif',
      width: SLIDE.width,
      height: SLIDE.height,
    });
  });

  it('with a tolerance it is indexed, and the pixels that matched no colour are counted and reported', async () => {
    writeManifest(24);
    const index = join(root, 'tolerant.sqlite');
    const r = await ingest({ dataDir: data, indexPath: index });
    expect(r.indexed.sort()).toEqual(['normal_002', 'tumor_001']);
    expect(codes(r)).toEqual([
      ['paint/tumor_001.jpg', 'MASK_COLORS_UNMATCHED'],
      ['slides/tumor_003.tif', 'LINK_DANGLING'],
    ]);
    const warning = r.problems.find((p) => p.code === 'MASK_COLORS_UNMATCHED')!;
    const unmatched = Number(
      /: (\d+) pixel\(s\) matched no palette colour within tolerance 24: indexed as unlabelled \(0\)$/.exec(
        warning.detail,
      )![1],
    );
    // The stripes ring in JPEG; flat areas decode within 24 of their colour.
    const maskPx = (SLIDE.width / DOWNSAMPLE) * (SLIDE.height / DOWNSAMPLE);
    expect(unmatched).toBeGreaterThan(0);
    expect(unmatched).toBeLessThan(maskPx / 4);
    // Every mask pixel is a class or was counted as unmatched: the class areas and the count add up.
    const raster = withIndex(index, (db) =>
      db
        .prepare<[], { value: number; raster_px: number }>(
          "SELECT value, raster_px FROM slide_classes WHERE slide_id = 'tumor_001' ORDER BY value",
        )
        .all(),
    );
    expect(raster.map((c) => c.value)).toEqual([1, 3]);
    expect(raster.reduce((n, c) => n + c.raster_px, 0) + unmatched).toBe(maskPx);
    expect(
      problemRows(index)
        .map((p) => p.code)
        .sort(),
    ).toEqual(['LINK_DANGLING', 'MASK_COLORS_UNMATCHED']);
    // Unchanged inputs: nothing rebuilt, the report kept.
    const again = await ingest({ dataDir: data, indexPath: index });
    expect([again.published, codes(again)]).toEqual([false, codes(r)]);
  });
});
