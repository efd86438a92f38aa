import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest, type IngestEvent, type IngestReport } from '../../src/indexer/ingest.js';
import { buildDataset, manifestJson, writeContextMask, writeLesions } from '../support/core-dataset.js';
import { makeTempDir, removeTempDir, writeSlide } from '../support/core-fixtures.js';
import { problemRows, slideRows, withIndex } from '../support/core-index.js';

let root: string;
let data: string;
let index: string;
let first: IngestReport;
const events: IngestEvent[] = [];
const run = (dataDir = data, indexPath = index) => {
  events.length = 0;
  return ingest({ dataDir, indexPath, onEvent: (e) => events.push(e) });
};
const built = () => events.filter((e) => e.phase === 'slide' && e.slideId).map((e) => e.slideId);
const problems = (r: IngestReport) => r.problems.map((p) => [p.slideId, p.code]).sort();

/** An ASAP file whose annotation names group `Tumour`, which AnnotationGroups does not declare. */
const UNDECLARED = `<?xml version="1.0"?><ASAP_Annotations><Annotations><Annotation Name="a" Type="Polygon" PartOfGroup="Tumour"><Coordinates>
<Coordinate Order="0" X="100" Y="100"/><Coordinate Order="1" X="900" Y="100"/><Coordinate Order="2" X="500" Y="800"/>
</Coordinates></Annotation></Annotations><AnnotationGroups><Group Name="_0" PartOfGroup="None"/></AnnotationGroups></ASAP_Annotations>`;

beforeAll(async () => {
  root = makeTempDir('faults');
  data = join(root, 'data');
  index = join(root, 'index.sqlite');
  await buildDataset(data, { real: false });
  for (const id of ['tumor_201', 'tumor_202', 'tumor_203'])
    copyFileSync(join(data, 'slides/Tumor_083.tif'), join(data, `slides/${id}.tif`));
  // Cut off mid-element, as a half-copied file is.
  const xml = writeLesionsText('Tumor_083');
  writeFileSync(join(data, 'labels/lesions/tumor_201.xml'), xml.slice(0, Math.floor(xml.length / 2)));
  writeFileSync(join(data, 'labels/lesions/tumor_202.xml'), UNDECLARED);
  await writeContextMask(data, 'tumor_203_mask.png', { width: 3000, height: 2400 }, [150, 150]);
  first = await run();
});
afterAll(() => removeTempDir(root));

/** The ASAP XML of the real polygons of `stem`, written aside and read back. */
function writeLesionsText(stem: string): string {
  const dir = join(root, 'aside');
  writeLesions(dir, stem, { width: 3000, height: 2400 });
  return readFileSync(join(dir, 'labels/lesions', `${stem}.xml`), 'utf8');
}

describe('ingest: one bad label file fails only its slide', () => {
  it('names the problem of each broken slide with its specific code; the others are indexed', () => {
    expect(problems(first)).toEqual([
      ['tumor_201', 'XML_MALFORMED'],
      ['tumor_202', 'ASAP_UNDECLARED_GROUP'],
      ['tumor_203', 'MASK_WRONG_SIZE'],
    ]);
    expect(first.indexed.sort()).toEqual(['normal_001', 'tumor_083', 'tumor_107']);
    expect([...slideRows(index).keys()]).toEqual(['normal_001', 'tumor_083', 'tumor_107']);
  });

  it('the detail names the label file, never an absolute path', () => {
    const byId = new Map(first.problems.map((p) => [p.slideId, p]));
    expect(byId.get('tumor_201')!.relPath).toBe('slides/tumor_201.tif');
    expect(byId.get('tumor_201')!.detail).toMatch(/^label file labels\/lesions\/tumor_201\.xml: not well-formed XML/);
    expect(byId.get('tumor_202')!.detail).toMatch(/group "Tumour"/);
    expect(byId.get('tumor_203')!.detail).toMatch(/150 x 150.*188 x 150/);
    for (const p of first.problems) expect(p.detail).not.toContain(root);
    expect(
      problemRows(index)
        .map((p) => p.code)
        .sort(),
    ).toEqual(['ASAP_UNDECLARED_GROUP', 'MASK_WRONG_SIZE', 'XML_MALFORMED']);
  });

  it('an unchanged bad file is not retried', async () => {
    const r = await run();
    expect([r.published, built(), problems(r)]).toEqual([false, [], problems(first)]);
  });

  it('a slide indexed before keeps its previous rows when its label file breaks', async () => {
    const before = snapshot('tumor_107');
    writeFileSync(join(data, 'labels/lesions/Tumor_107.xml'), '<ASAP_Annotations><Annotations>');
    const r = await run();
    expect(built()).toEqual(['tumor_107']);
    expect(problems(r)).toContainEqual(['tumor_107', 'XML_MALFORMED']);
    expect(r.indexed).toEqual([]);
    expect(snapshot('tumor_107')).toEqual(before);
    // ... and that failure is not retried either, while the slide stays served.
    const again = await run();
    expect([again.published, built()]).toEqual([false, []]);
    expect(snapshot('tumor_107')).toEqual(before);
  });

  it('fixing a file indexes its slide and clears its problem', async () => {
    writeFileSync(join(data, 'labels/lesions/tumor_202.xml'), UNDECLARED.replace('"Tumour"', '"_0"'));
    const r = await run();
    expect([r.indexed, built()]).toEqual([['tumor_202'], ['tumor_202']]);
    expect(problems(r).map((p) => p[0])).toEqual(['tumor_107', 'tumor_201', 'tumor_203']);
    // One triangle of tumour: (100,100) (900,100) (500,800) at downsample 4.
    const classes = withIndex(index, (db) =>
      db.prepare("SELECT value, raster_px FROM slide_classes WHERE slide_id = 'tumor_202'").all(),
    );
    expect(classes).toEqual([{ value: 1, raster_px: expect.any(Number) }]);
    expect((classes[0] as { raster_px: number }).raster_px).toBeCloseTo((800 * 700) / 2 / 16, -2);
  });
});

/** Everything the index holds for one slide: its rows in every table. */
function snapshot(id: string): unknown[] {
  return withIndex(index, (db) =>
    [
      'slides WHERE id',
      'slide_levels WHERE slide_id',
      'label_sources WHERE slide_id',
      'slide_classes WHERE slide_id',
      'label_tiles WHERE slide_id',
      'label_tile_counts WHERE slide_id',
    ].map((t) => db.prepare(`SELECT * FROM ${t} = ? ORDER BY 1, 2, 3`).all(id)),
  );
}

describe('ingest: non-integer downsamples', () => {
  it('a label raster at downsample 2.5 indexes, with whole level-0 pixel counts', async () => {
    const dir = join(root, 'fractional');
    mkdirSync(join(dir, 'slides'), { recursive: true });
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifestJson(2.5)));
    await writeSlide(join(dir, 'slides/Tumor_107.tif'), { width: 1300, height: 1000, mpp: 0.226, seed: 5 });
    writeLesions(dir, 'Tumor_107', { width: 1300, height: 1000 });
    const r = await run(dir, join(dir, 'index.sqlite'));
    expect([r.indexed, r.problems]).toEqual([['tumor_107'], []]);
    const s = slideRows(join(dir, 'index.sqlite')).get('tumor_107')!;
    expect(s).toMatchObject({ label_downsample: 2.5, label_width: 520, label_height: 400 });
    const areas = withIndex(join(dir, 'index.sqlite'), (db) =>
      db.prepare<[], { raster_px: number; area_l0: number }>('SELECT raster_px, area_l0 FROM slide_classes').all(),
    );
    expect(areas.map((a) => a.area_l0)).toEqual(areas.map((a) => a.raster_px * 6.25));
    expect(s['labelled_px']).toBe(Math.round(areas.reduce((n, a) => n + a.area_l0, 0)));
  });
});

describe('ingest: a missing or emptied data directory never empties a full index', () => {
  it('refuses a data directory that does not exist, leaving the index as it was', async () => {
    const before = readFileSync(index);
    await expect(run(join(root, 'not-mounted'))).rejects.toMatchObject({ code: 'DATA_DIR_MISSING' });
    expect(readFileSync(index).equals(before)).toBe(true);
  });

  it('refuses a scan that finds no slide while the index has some', async () => {
    const empty = join(root, 'empty');
    mkdirSync(join(empty, 'slides'), { recursive: true });
    const before = readFileSync(index);
    await expect(run(empty)).rejects.toMatchObject({ code: 'DATASET_EMPTY' });
    expect(readFileSync(index).equals(before)).toBe(true);
    const emptied = await ingest({ dataDir: empty, indexPath: join(root, 'other.sqlite'), allowEmpty: true });
    expect(emptied.published).toBe(true);
  });
});
