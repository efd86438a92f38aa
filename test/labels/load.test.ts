import { writeFileSync } from 'node:fs';
import { crc32, deflateSync } from 'node:zlib';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseManifest, type LabelSourceSpec, type Manifest } from '../../src/dataset/manifest.js';
import { MAX_VECTOR_FILE_BYTES, checkMaskSize, loadLabelFile } from '../../src/labels/load.js';
import { appErrorOf, makeTempDir, removeTempDir } from '../support/core-fixtures.js';

const SLIDE = { width: 100, height: 60 };
let dir: string;

const manifest: Manifest = parseManifest({
  labelSources: [
    { id: 'labels', format: 'label-mask', dir: 'm', downsample: 4 },
    { id: 'colours', format: 'color-mask', dir: 'c', downsample: 4 },
    {
      id: 'painted',
      format: 'color-mask',
      dir: 'p',
      downsample: 4,
      palette: { '#102030': 'fold', '#FFFFFF': 'adipose' },
    },
    { id: 'lossy', format: 'color-mask', dir: 'j', downsample: 4, tolerance: 24 },
    { id: 'near', format: 'color-mask', dir: 'n', downsample: 4, palette: { '#102030': 'fold' }, tolerance: 2 },
    { id: 'asap', format: 'asap-xml', dir: 'a', classMap: { _0: 'metastasis', _2: null } },
    { id: 'qupath', format: 'geojson', dir: 'g' },
  ],
});
const spec = (id: string): LabelSourceSpec => manifest.labelSources.find((s) => s.id === id)!;

/** Writes a mask image from a value per pixel (grey) or a colour per pixel. */
async function writeMask(
  name: string,
  width: number,
  height: number,
  pixel: (i: number, j: number) => number[],
  format: 'png' | 'jpeg' | 'tiff' = 'png',
): Promise<string> {
  const channels = pixel(0, 0).length as 1 | 3 | 4;
  const raw = Buffer.alloc(width * height * channels);
  for (let j = 0; j < height; j++) for (let i = 0; i < width; i++) raw.set(pixel(i, j), (j * width + i) * channels);
  const path = join(dir, name);
  let img = sharp(raw, { raw: { width, height, channels } });
  // Without this, sharp would save one channel as sRGB: a label mask is a true 8-bit grey image.
  if (channels === 1) img = img.toColourspace('b-w');
  if (format === 'png') await img.png().toFile(path);
  else if (format === 'jpeg') await img.jpeg({ quality: 90 }).toFile(path);
  else
    await img.tiff({ tile: true, tileWidth: 16, tileHeight: 16, pyramid: true, compression: 'deflate' }).toFile(path);
  return path;
}

async function load(path: string, id: string, slide = SLIDE) {
  return loadLabelFile(path, 1000, spec(id), manifest.taxonomy, slide);
}

beforeAll(() => {
  dir = makeTempDir('load');
});
afterAll(() => removeTempDir(dir));

describe('checkMaskSize', () => {
  // A 101 x 61 slide at downsample 4 is 25.25 x 15.25 mask pixels: floor, round and ceil are fine.
  const table: Array<[number, number, boolean]> = [
    [25, 15, true],
    [26, 16, true],
    [25, 16, true],
    [24, 15, false],
    [27, 15, false],
    [25, 14, false],
    [25, 17, false],
  ];
  for (const [w, h, ok] of table) {
    it(`${w} x ${h} for a 101 x 61 slide at downsample 4: ${ok ? 'accepted' : 'MASK_WRONG_SIZE'}`, async () => {
      if (ok) expect(() => checkMaskSize(w, h, 4, { width: 101, height: 61 })).not.toThrow();
      else
        expect((await appErrorOf(() => checkMaskSize(w, h, 4, { width: 101, height: 61 }))).code).toBe(
          'MASK_WRONG_SIZE',
        );
    });
  }
});

describe('loadLabelFile: label masks', () => {
  it('reads an 8-bit mask whose values are class values', async () => {
    const path = await writeMask('ok.png', 25, 15, (i, j) => [(i + j) % 9]);
    const src = await load(path, 'labels');
    expect(src).toMatchObject({ kind: 'mask', width: 25, height: 15, downsample: 4 });
    if (src.kind !== 'mask') throw new Error('not a mask');
    expect(src.values).toHaveLength(25 * 15);
    expect(src.values[3 * 25 + 7]).toBe(1);
  });

  it('takes the grey value of a label mask saved as RGB', async () => {
    const src = await load(await writeMask('rgb.png', 25, 15, (i) => [i % 4, i % 4, i % 4]), 'labels');
    if (src.kind !== 'mask') throw new Error('not a mask');
    expect(Array.from(src.values.subarray(0, 5))).toEqual([0, 1, 2, 3, 0]);
  });

  it('reads the first (largest) page of a pyramidal TIFF mask', async () => {
    const src = await load(await writeMask('pyr.tiff', 25, 15, (i) => [i < 10 ? 3 : 0], 'tiff'), 'labels');
    expect(src).toMatchObject({ kind: 'mask', width: 25, height: 15 });
    if (src.kind !== 'mask') throw new Error('not a mask');
    expect(src.values.filter((v) => v === 3)).toHaveLength(10 * 15);
  });

  it('refuses a mask of the wrong size, naming both sizes', async () => {
    const e = await appErrorOf(async () => load(await writeMask('small.png', 20, 15, () => [0]), 'labels'));
    expect(e.code).toBe('MASK_WRONG_SIZE');
    expect(e.detail).toContain('20 x 15');
    expect(e.detail).toContain('25 x 15');
  });

  it('refuses values the taxonomy does not declare, with their pixel counts', async () => {
    const e = await appErrorOf(async () =>
      load(await writeMask('unknown.png', 25, 15, (i, j) => [i === 0 && j < 3 ? 12 : 1]), 'labels'),
    );
    expect(e.code).toBe('MASK_UNKNOWN_VALUE');
    expect(e.detail).toContain('12 (3 px)');
  });

  it('refuses a 16-bit mask rather than reading every class value as 0', async () => {
    const path = join(dir, 'sixteen.png');
    writeFileSync(
      path,
      png16(25, 15, (i) => i % 9),
    );
    const e = await appErrorOf(() => load(path, 'labels'));
    expect([e.code, e.detail]).toEqual([
      'MASK_NOT_8BIT',
      'the mask has ushort samples: a label mask holds one byte per pixel (8-bit grey)',
    ]);
  });

  it('checks the size from the header, before decoding: a wrong-size mask with broken pixel data is MASK_WRONG_SIZE', async () => {
    // A header for 4000 x 3000 and then too few pixel bytes: decoding it would fail (and cost 12 MB).
    const path = join(dir, 'huge-header.png');
    writeFileSync(path, truncatedPng(4000, 3000));
    const e = await appErrorOf(() => load(path, 'labels'));
    expect([e.code, e.detail]).toEqual([
      'MASK_WRONG_SIZE',
      'the mask is 4000 x 3000, but a mask at downsample 4 of this 100 x 60 slide is 25 x 15',
    ]);
  });

  it('a mask of the right size whose pixel data is broken is still refused when decoded', async () => {
    const path = join(dir, 'right-header.png');
    writeFileSync(path, truncatedPng(25, 15));
    expect((await appErrorOf(() => load(path, 'labels'))).code).toBe('MASK_UNREADABLE');
  });

  it('refuses a file that is not an image', async () => {
    const path = join(dir, 'text.png');
    writeFileSync(path, 'not a PNG at all');
    const e = await appErrorOf(() => load(path, 'labels'));
    expect(e.code).toBe('MASK_UNREADABLE');
    expect(e.detail).not.toContain(dir);
  });
});

describe('loadLabelFile: colour masks', () => {
  const metastasis = [0xd6, 0x27, 0x28];
  const adipose = [0xf2, 0xc1, 0x2e];

  it('maps the taxonomy colours to values; black is unlabelled; alpha is ignored', async () => {
    const path = await writeMask('colour.png', 25, 15, (i) => [
      ...(i < 5 ? metastasis : i < 10 ? adipose : [0, 0, 0]),
      255,
    ]);
    const src = await load(path, 'colours');
    if (src.kind !== 'mask') throw new Error('not a mask');
    expect(Array.from(src.values.subarray(0, 25))).toEqual([
      ...Array(5).fill(1),
      ...Array(5).fill(3),
      ...Array(15).fill(0),
    ]);
  });

  it('uses the source palette when it has one', async () => {
    const src = await load(
      await writeMask('palette.png', 25, 15, (i) => (i < 2 ? [0x10, 0x20, 0x30] : [255, 255, 255])),
      'painted',
    );
    if (src.kind !== 'mask') throw new Error('not a mask');
    expect(Array.from(src.values.subarray(0, 4))).toEqual([5, 5, 3, 3]);
  });

  it('refuses a colour not in the palette (taxonomy colours are not the palette of a source that has one)', async () => {
    const e = await appErrorOf(async () => load(await writeMask('foreign.png', 25, 15, () => metastasis), 'painted'));
    expect(e.code).toBe('COLOR_NOT_IN_PALETTE');
    expect(e.detail).toContain('#d62728 (375 px)');
  });

  it('refuses a JPEG colour mask without a tolerance, from its header (exactness asked)', async () => {
    const path = await writeMask(
      'lossy.jpeg',
      25,
      15,
      (i, j) => (((i >> 2) + (j >> 2)) % 2 ? metastasis : adipose),
      'jpeg',
    );
    const e = await appErrorOf(() => load(path, 'colours'));
    expect(e.code).toBe('MASK_LOSSY');
    expect(e.detail).toMatch(/JPEG.*losslessly \(PNG\), or give the label source a "tolerance"/);
  });

  it('reads a real JPEG colour mask with a tolerance: each pixel its class or 0, the 0s counted', async () => {
    const truth = (i: number, j: number) => (((i >> 3) + (j >> 3)) % 2 ? 1 : 3);
    const path = await writeMask(
      'lossy-ok.jpeg',
      100,
      60,
      (i, j) => (truth(i, j) === 1 ? metastasis : adipose),
      'jpeg',
    );
    const src = await load(path, 'lossy', { width: 400, height: 240 });
    if (src.kind !== 'mask') throw new Error('not a mask');
    let right = 0;
    let zeros = 0;
    src.values.forEach((v, p) => {
      if (v === 0) zeros++;
      else {
        expect(v).toBe(truth(p % 100, Math.floor(p / 100)));
        right++;
      }
    });
    // JPEG rings at the squares' edges: most pixels stay within 24 of their colour, some do not.
    expect(right).toBeGreaterThan(0.8 * 6000);
    expect(src.unmatchedPx).toBe(zeros);
    expect(zeros).toBeGreaterThan(0);
  });

  it('a tolerance maps colours within it on every channel, and counts the rest as unlabelled', async () => {
    // #102030 is fold (5); 2 off on one channel matches, 3 off does not; black stays unlabelled.
    const colour = (i: number) =>
      i < 5 ? [0x12, 0x20, 0x30] : i < 10 ? [0x10, 0x1e, 0x32] : i < 12 ? [0x13, 0x20, 0x30] : [0, 0, 1];
    const src = await load(await writeMask('near.png', 25, 15, colour), 'near');
    if (src.kind !== 'mask') throw new Error('not a mask');
    expect(Array.from(src.values.subarray(0, 25))).toEqual([...Array(10).fill(5), 0, 0, ...Array(13).fill(0)]);
    expect(src.unmatchedPx).toBe(2 * 15);
  });

  it('without a tolerance a lossless mask reports no count (nothing is dropped silently)', async () => {
    const src = await load(await writeMask('exact.png', 25, 15, () => metastasis), 'colours');
    expect(src).not.toHaveProperty('unmatchedPx');
  });

  it('reads a grey image as colours #vvvvvv: a label mask given as a colour mask is refused by colour', async () => {
    const e = await appErrorOf(async () => load(await writeMask('grey.png', 25, 15, () => [1]), 'colours'));
    expect(e.code).toBe('COLOR_NOT_IN_PALETTE');
    expect(e.detail).toContain('#010101 (375 px)');
  });
});

describe('loadLabelFile: vector files', () => {
  const asap = (x0: number, y0: number, x1: number, y1: number) =>
    `<?xml version="1.0"?><ASAP_Annotations><Annotations>` +
    `<Annotation Name="t1" Type="Polygon" PartOfGroup="_0"><Coordinates>` +
    `<Coordinate Order="0" X="${x0}" Y="${y0}"/><Coordinate Order="1" X="${x1}" Y="${y0}"/><Coordinate Order="2" X="${x1}" Y="${y1}"/>` +
    `</Coordinates></Annotation></Annotations><AnnotationGroups><Group Name="_0" PartOfGroup="None"/></AnnotationGroups></ASAP_Annotations>`;

  function file(name: string, text: string): string {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  }

  it('reads ASAP XML through the source class map; a shape partly outside the slide is fine', async () => {
    const src = await load(file('in.xml', asap(90, 50, 150, 90)), 'asap');
    expect(src).toMatchObject({ kind: 'vector', shapes: [{ value: 1, name: 't1' }] });
  });

  it('refuses a shape wholly outside the slide: the file uses another coordinate plane', async () => {
    for (const [x0, y0, x1, y1] of [
      [100, 0, 150, 50],
      [-50, 0, 0, 50],
      [0, 60, 50, 90],
      [10, -30, 20, -1],
    ]) {
      const e = await appErrorOf(() => load(file('out.xml', asap(x0!, y0!, x1!, y1!)), 'asap'));
      expect(e.code).toBe('LABEL_OUTSIDE_SLIDE');
      expect(e.detail).toContain('"t1"');
    }
  });

  it('refuses a GeoJSON shape wholly outside the slide as well', async () => {
    const feature = {
      type: 'Feature',
      id: 'far',
      properties: { classification: { name: 'fold' } },
      geometry: {
        type: 'Polygon',
        coordinates: [
          [
            [1000, 1000],
            [1100, 1000],
            [1100, 1100],
            [1000, 1000],
          ],
        ],
      },
    };
    const e = await appErrorOf(() =>
      load(file('far.geojson', JSON.stringify({ type: 'FeatureCollection', features: [feature] })), 'qupath'),
    );
    expect(e.code).toBe('LABEL_OUTSIDE_SLIDE');
  });

  it('refuses an oversized vector file before reading it', async () => {
    const e = await appErrorOf(() =>
      loadLabelFile(join(dir, 'absent.xml'), MAX_VECTOR_FILE_BYTES + 1, spec('asap'), manifest.taxonomy, SLIDE),
    );
    expect(e.code).toBe('LABEL_FILE_TOO_LARGE');
  });
});

/** A 16-bit grey PNG written byte by byte, as numpy / scikit-image save a uint16 array. */
function png16(width: number, height: number, value: (i: number, j: number) => number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const out = Buffer.alloc(body.length + 8);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), body.length + 4);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([16, 0, 0, 0, 0], 8); // 16 bits, grey, deflate, no filter, no interlace
  const raw = Buffer.alloc(height * (1 + width * 2));
  for (let j = 0; j < height; j++)
    for (let i = 0; i < width; i++) raw.writeUInt16BE(value(i, j), j * (1 + width * 2) + 1 + i * 2);
  return Buffer.concat([
    Buffer.from('89504e470d0a1a0a', 'hex'),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** An 8-bit grey PNG whose header says width x height but whose pixel data stops after 2 rows. */
function truncatedPng(width: number, height: number): Buffer {
  const full = png16(1, 1, () => 0);
  const sig = full.subarray(0, 8);
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const out = Buffer.alloc(body.length + 8);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), body.length + 4);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 0, 0, 0, 0], 8); // 8 bits, grey
  const rows = deflateSync(Buffer.alloc(2 * (1 + width)));
  return Buffer.concat([sig, chunk('IHDR', header), chunk('IDAT', rows), chunk('IEND', Buffer.alloc(0))]);
}
