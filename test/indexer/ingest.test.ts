import { readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest, type IngestEvent, type IngestReport } from '../../src/indexer/ingest.js';
import { buildDataset, manifestJson, type GeneratedSlide } from '../support/core-dataset.js';
import { makeTempDir, removeTempDir } from '../support/core-fixtures.js';
import { geometryOf, levelImages, problemRows, slideRows, withIndex } from '../support/core-index.js';
import { bruteCompose, bruteLevels, histogram, rows } from '../support/core-raster.js';

let root: string;
let data: string;
let index: string;
let generated: GeneratedSlide[];
let first: IngestReport;

beforeAll(async () => {
  root = makeTempDir('ingest');
  data = join(root, 'data');
  index = join(root, 'var', 'index.sqlite');
  generated = await buildDataset(data);
  first = await ingest({ dataDir: data, indexPath: index });
});
afterAll(() => removeTempDir(root));

describe('ingest: the real fixture slides', () => {
  it('reports exactly the two broken files, each with its specific code', () => {
    expect(first.published).toBe(true);
    expect(first.problems.map((p) => [p.relPath, p.slideId, p.code])).toEqual([
      ['slides/unopenable.tiff', 'unopenable', 'TIFF_UNKNOWN_COMPRESSION'],
      ['slides/unreadable.svs', 'unreadable', 'PIXELS_UNREADABLE'],
    ]);
    expect(problemRows(index).map((p) => p.code)).toEqual(['TIFF_UNKNOWN_COMPRESSION', 'PIXELS_UNREADABLE']);
    const ids = [...slideRows(index).keys()];
    expect(ids).toEqual([
      'boxes',
      'cmu-1-small-region',
      'normal_001',
      'small',
      'tcga-cr-7395-01a-01-ts1',
      'tumor_083',
      'tumor_107',
      'yb10kx5k.zstd',
    ]);
    expect(first.indexed.sort()).toEqual(ids);
  });

  it('indexes the readable ones with their structure', () => {
    const s = slideRows(index);
    const pick = (id: string) => {
      const r = s.get(id)!;
      return [
        r['status'],
        r['format'],
        r['big_tiff'],
        r['width'],
        r['height'],
        r['compression'],
        r['tile_width'],
        r['mpp_x'],
      ];
    };
    expect(pick('boxes')).toEqual(['ok', 'generic-tiff', 0, 300, 250, 'Deflate', 64, null]);
    expect(pick('cmu-1-small-region')).toEqual(['ok', 'aperio', 0, 2220, 2967, 'JPEG', 240, 0.499]);
    expect(pick('small')).toEqual(['ok', 'aperio', 0, 16, 16, 'JPEG', 64, 0.499]);
    const levels = withIndex(index, (db) =>
      db
        .prepare<[], { slide_id: string; n: number }>(
          'SELECT slide_id, count(*) AS n FROM slide_levels GROUP BY slide_id',
        )
        .all(),
    );
    expect(Object.fromEntries(levels.map((l) => [l.slide_id, l.n]))).toMatchObject({
      boxes: 4,
      'cmu-1-small-region': 1,
      small: 1,
      'tcga-cr-7395-01a-01-ts1': 2,
      'yb10kx5k.zstd': 5,
      tumor_083: 4,
    });
    // A real H&E region is mostly tissue; the estimate is in level-0 pixels.
    expect(s.get('cmu-1-small-region')!['tissue_px'] as number).toBeGreaterThan(0.3 * 2220 * 2967);
  });

  it('keeps JPEG 2000 and ZSTD slides as unsupported, naming the codec', () => {
    const s = slideRows(index);
    expect(s.get('tcga-cr-7395-01a-01-ts1')).toMatchObject({
      status: 'unsupported',
      compression_code: 33005,
      tissue_px: null,
    });
    expect(s.get('tcga-cr-7395-01a-01-ts1')!['status_reason']).toMatch(/JPEG 2000/);
    expect(s.get('yb10kx5k.zstd')).toMatchObject({
      status: 'unsupported',
      compression: 'ZSTD',
      big_tiff: 1,
      width: 10000,
    });
    expect(s.get('yb10kx5k.zstd')!['status_reason']).toMatch(/ZSTD/);
  });
});

describe('ingest: generated Camelyon16-like slides with labels in every format', () => {
  it('records the structure, mpp and raster geometry', () => {
    const s = slideRows(index);
    expect(s.get('tumor_083')).toMatchObject({
      status: 'ok',
      format: 'generic-tiff',
      big_tiff: 1,
      width: 3000,
      height: 2400,
      compression: 'JPEG',
      tile_width: 512,
    });
    expect(s.get('tumor_083')).toMatchObject({
      label_downsample: 4,
      label_width: 750,
      label_height: 600,
      label_levels: 3,
    });
    expect(s.get('tumor_083')!['mpp_x'] as number).toBeCloseTo(0.243, 6);
    expect(s.get('tumor_107')!['mpp_y'] as number).toBeCloseTo(0.226, 6);
    expect(s.get('normal_001')).toMatchObject({ status: 'ok', label_downsample: null, labelled_px: 0 });
    expect(s.get('normal_001')!['tissue_px'] as number).toBeGreaterThan(0);
  });

  it('lists the label sources of each slide in painting order', () => {
    const sources = withIndex(index, (db) =>
      db
        .prepare<
          [],
          {
            slide_id: string;
            position: number;
            source_id: string;
            rel_path: string;
            shapes: number | null;
            downsample: number;
          }
        >('SELECT * FROM label_sources ORDER BY slide_id, position')
        .all(),
    );
    expect(sources.map((r) => [r.slide_id, r.position, r.source_id, r.rel_path, r.shapes, r.downsample])).toEqual([
      ['tumor_083', 0, 'context', 'labels/context/Tumor_083_mask.png', null, 16],
      ['tumor_083', 1, 'lesions', 'labels/lesions/Tumor_083.xml', 5, 4],
      ['tumor_083', 2, 'artefacts', 'labels/artefacts/tumor_083.geojson', 2, 4],
      ['tumor_083', 3, 'paint', 'labels/paint/tumor_083.png', null, 8],
      ['tumor_107', 0, 'context', 'labels/context/tumor_107_mask.png', null, 16],
      ['tumor_107', 1, 'lesions', 'labels/lesions/Tumor_107.xml', 5, 4],
    ]);
  });

  for (const id of ['tumor_083', 'tumor_107']) {
    describe(id, () => {
      let expected: Uint8Array;
      beforeAll(() => {
        const g = generated.find((s) => s.id === id)!;
        expected = bruteCompose(g.reference, Math.ceil(g.width / 4), Math.ceil(g.height / 4), 4);
      });

      it('per-class raster_px, areas and boxes equal a brute-force count', () => {
        const slide = slideRows(index).get(id)!;
        const width = slide['label_width'] as number;
        const want = histogram(expected);
        want.delete(0);
        const classes = withIndex(index, (db) =>
          db
            .prepare<[string], Record<string, number>>('SELECT * FROM slide_classes WHERE slide_id = ? ORDER BY value')
            .all(id),
        );
        expect(classes.map((c) => [c['value'], c['raster_px']])).toEqual(
          [...want.entries()].sort((a, b) => a[0] - b[0]),
        );
        expect(classes.length).toBe(id === 'tumor_083' ? 7 : 3);
        for (const c of classes) {
          expect(c['area_l0']).toBe(c['raster_px']! * 16);
          expect(c['area_um2']).toBeCloseTo(c['area_l0']! * (slide['mpp_x'] as number) * (slide['mpp_y'] as number), 3);
          const box = [Infinity, Infinity, 0, 0];
          expected.forEach((v, k) => {
            if (v !== c['value']) return;
            const i = k % width;
            const j = Math.floor(k / width);
            box[0] = Math.min(box[0]!, i * 4);
            box[1] = Math.min(box[1]!, j * 4);
            box[2] = Math.max(box[2]!, (i + 1) * 4);
            box[3] = Math.max(box[3]!, (j + 1) * 4);
          });
          expect([c['x0'], c['y0'], c['x1'], c['y1']]).toEqual(box);
        }
        expect(slide['labelled_px']).toBe(classes.reduce((n, c) => n + c['area_l0']!, 0));
      });

      it('label tiles inflate to the rasterised labels, at every level', () => {
        const slide = slideRows(index).get(id)!;
        const g = geometryOf(slide);
        const want = bruteLevels({ width: g.width, height: g.height, data: expected }, g.levels);
        levelImages(index, id, g).forEach((img, k) => {
          if (!Buffer.from(img.data).equals(Buffer.from(want[k]!.data)))
            expect(rows(img.data, img.width)).toEqual(rows(want[k]!.data, img.width));
        });
      });

      it('per-tile counts add up to each class', () => {
        const sums = withIndex(index, (db) =>
          db
            .prepare<[string], { value: number; n: number }>(
              'SELECT value, sum(count) AS n FROM label_tile_counts WHERE slide_id = ? GROUP BY value',
            )
            .all(id),
        );
        const want = histogram(expected);
        for (const s of sums) expect(s.n).toBe(want.get(s.value));
        expect(sums).toHaveLength(want.size - 1);
      });
    });
  }
});

describe('ingest: incremental', () => {
  const events: IngestEvent[] = [];
  const run = () => ingest({ dataDir: data, indexPath: index, onEvent: (e) => events.push(e) });
  const built = () => events.filter((e) => e.phase === 'slide' && e.slideId).map((e) => e.slideId);

  it('a second run publishes nothing and leaves the index file as it was', async () => {
    const before = readFileSync(index);
    const mtime = statSync(index).mtimeMs;
    events.length = 0;
    const r = await run();
    expect([r.published, r.indexed, r.datasetVersion]).toEqual([false, [], first.datasetVersion]);
    expect(r.unchanged).toHaveLength(8);
    expect(r.problems.map((p) => p.code)).toEqual(first.problems.map((p) => p.code));
    expect(built()).toEqual([]); // the two broken files were not retried either
    expect(readFileSync(index).equals(before)).toBe(true);
    expect(statSync(index).mtimeMs).toBe(mtime);
  });

  it('touching one label file rebuilds only its slide', async () => {
    const before = slideRows(index);
    const later = new Date(Date.now() + 5000);
    utimesSync(join(data, 'labels/artefacts/tumor_083.geojson'), later, later);
    events.length = 0;
    const r = await run();
    expect([r.published, r.indexed, built()]).toEqual([true, ['tumor_083'], ['tumor_083']]);
    expect(r.datasetVersion).not.toBe(first.datasetVersion);
    const after = slideRows(index);
    expect(after.get('tumor_083')!['input_key']).not.toBe(before.get('tumor_083')!['input_key']);
    for (const id of ['tumor_107', 'boxes', 'normal_001']) expect(after.get(id)).toEqual(before.get(id));
  });

  it('removing a slide removes its rows, tiles and counts', async () => {
    rmSync(join(data, 'slides/tumor_107.tif'));
    rmSync(join(data, 'labels/context/tumor_107_mask.png'));
    rmSync(join(data, 'labels/lesions/Tumor_107.xml'));
    const r = await run();
    expect([r.published, r.removed, r.indexed]).toEqual([true, ['tumor_107'], []]);
    const left = withIndex(index, (db) =>
      [
        'slides WHERE id',
        'slide_levels WHERE slide_id',
        'label_sources WHERE slide_id',
        'slide_classes WHERE slide_id',
        'label_tiles WHERE slide_id',
        'label_tile_counts WHERE slide_id',
      ].map((t) => (db.prepare(`SELECT count(*) AS n FROM ${t} = 'tumor_107'`).get() as { n: number }).n),
    );
    expect(left).toEqual([0, 0, 0, 0, 0, 0]);
    expect(slideRows(index).has('tumor_083')).toBe(true);
  });

  it('a label file without its slide is reported, and a changed manifest rebuilds every slide', async () => {
    writeFileSync(join(data, 'labels/lesions/Tumor_999.xml'), '<ASAP_Annotations/>');
    writeFileSync(join(data, 'manifest.json'), JSON.stringify({ ...manifestJson(), version: '2' }));
    events.length = 0;
    const r = await run();
    expect(r.indexed.sort()).toEqual([
      'boxes',
      'cmu-1-small-region',
      'normal_001',
      'small',
      'tcga-cr-7395-01a-01-ts1',
      'tumor_083',
      'yb10kx5k.zstd',
    ]);
    expect(built()).toHaveLength(9); // the broken files are retried under the new manifest
    expect(r.problems.map((p) => [p.relPath, p.code])).toContainEqual([
      'labels/lesions/Tumor_999.xml',
      'LABEL_WITHOUT_SLIDE',
    ]);
    expect(withIndex(index, (db) => db.prepare("SELECT value FROM dataset WHERE key = 'version'").get())).toEqual({
      value: '2',
    });
  });
});
