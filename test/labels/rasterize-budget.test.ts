/**
 * The rasterising budget at ingest, on real files: a 2,048 px slide whose GeoJSON label is a
 * 100,000-vertex comb (every edge spans every row) is indexed within the default budget, and
 * refused with LABEL_TOO_COMPLEX, naming the file, under a budget below its work; the other
 * slide is indexed either way.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest } from '../../src/indexer/ingest.js';
import { rasterWork } from '../../src/labels/rasterize.js';
import { makeTempDir, removeTempDir, writeSlide } from '../support/core-fixtures.js';
import { problemRows, slideRows } from '../support/core-index.js';
import { combRing } from '../support/fuzz-arbitraries.js';

let root: string;
let data: string;
const comb = combRing(100_000, 10, 20, 2028, 2008);
const square = [
  [100, 100],
  [900, 100],
  [900, 900],
  [100, 900],
  [100, 100],
];
const feature = (ring: number[][]) => ({
  type: 'Feature',
  geometry: { type: 'Polygon', coordinates: [ring] },
  properties: { classification: { name: 'adipose' } },
});

beforeAll(async () => {
  root = makeTempDir('raster-budget');
  data = join(root, 'data');
  mkdirSync(join(data, 'labels'), { recursive: true });
  writeFileSync(
    join(data, 'manifest.json'),
    JSON.stringify({
      name: 'budget',
      version: '1',
      labelDownsample: 4,
      labelSources: [{ id: 'shapes', format: 'geojson', dir: 'labels' }],
    }),
  );
  await writeSlide(join(data, 'slides', 'comb.tif'), { width: 2048, height: 2048, mpp: 0.243, seed: 3 });
  await writeSlide(join(data, 'slides', 'plain.tif'), { width: 1024, height: 1024, mpp: 0.243, seed: 4 });
  writeFileSync(
    join(data, 'labels', 'comb.geojson'),
    JSON.stringify({ type: 'FeatureCollection', features: [feature(comb)] }),
  );
  writeFileSync(
    join(data, 'labels', 'plain.geojson'),
    JSON.stringify({ type: 'FeatureCollection', features: [feature(square)] }),
  );
}, 120_000);
afterAll(() => removeTempDir(root));

describe('MAX_RASTER_WORK at ingest', () => {
  const combWork = rasterWork([{ value: 3, name: 'comb', rings: [Float64Array.from(comb.flat())] }], 4, 512, 512, 256);

  it('indexes the 100,000-vertex comb within the default budget', async () => {
    const indexPath = join(root, 'default.sqlite');
    const r = await ingest({ dataDir: data, indexPath });
    expect(r.problems).toEqual([]);
    expect([...slideRows(indexPath).keys()].sort()).toEqual(['comb', 'plain']);
  }, 120_000);

  it('refuses it with LABEL_TOO_COMPLEX, naming the file, under a smaller budget; the other slide is indexed', async () => {
    const indexPath = join(root, 'tight.sqlite');
    const r = await ingest({ dataDir: data, indexPath, maxRasterWork: combWork - 1 });
    expect(r.problems.map((p) => [p.slideId, p.code])).toEqual([['comb', 'LABEL_TOO_COMPLEX']]);
    expect(r.problems[0]!.detail).toContain('labels/comb.geojson');
    expect(r.problems[0]!.detail).toContain(String(combWork));
    expect(problemRows(indexPath).map((p) => p.code)).toEqual(['LABEL_TOO_COMPLEX']);
    expect([...slideRows(indexPath).keys()]).toEqual(['plain']);
  }, 120_000);
});
