/**
 * IIIF Image API 3.0 conformance at level 2, case by case as the official validator
 * (IIIF/image-validator) checks it, on the validator's kind of test image: 1000 x 1000 pixels in
 * 10 x 10 squares of known colours (ours generated, colours seeded), written as a tiled pyramidal
 * JPEG TIFF and ingested as a slide. A square "matches" as the validator decides: the most
 * frequent colour of its inner part within 5 of the truth on each channel. Where the validator
 * draws random squares or sizes, this test takes several fixed ones.
 *
 * size_noup includes `!2000,3000` on the 1000 x 1000 image: the validator wants it to fail (its best
 * fit, 2000 x 2000, is an upscale without `^`), and it does, although the spec's wording ("not
 * larger than the extracted region") can be read as asking for the region itself.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { camelyonTiffOptions } from '../../src/demo/pixels.js';
import { ingest } from '../../src/indexer/ingest.js';
import { mulberry32 } from '../../src/prng.js';
import { binary, serveIndex } from '../support/app-fixture.js';

/** Like the validator's identifier: a UUID-like id with hyphens (id_escaped sends them as %2D). */
const ID = '5e1d6c2a-iiif-test-image';
const SIDE = 1000;
type Rgb = [number, number, number];

/** colours[x][y]: the square in column x, row y (the validator's colorInfo indexing). */
const colours: Rgb[][] = (() => {
  const next = mulberry32(3);
  const byte = () => Math.floor(next() * 256);
  return Array.from({ length: 10 }, () => Array.from({ length: 10 }, (): Rgb => [byte(), byte(), byte()]));
})();

let dir: string;
let app: Awaited<ReturnType<typeof serveIndex>>['app'];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'iiif-conformance-'));
  const pixels = Buffer.alloc(SIDE * SIDE * 3);
  for (let y = 0; y < SIDE; y++) {
    for (let x = 0; x < SIDE; x++) pixels.set(colours[Math.floor(x / 100)]![Math.floor(y / 100)]!, (y * SIDE + x) * 3);
  }
  mkdirSync(join(dir, 'data', 'slides'), { recursive: true });
  // Camelyon16's layout with smaller tiles (so the pyramid has levels) and little JPEG loss.
  await sharp(pixels, { raw: { width: SIDE, height: SIDE, channels: 3 } })
    .tiff({ ...camelyonTiffOptions(0.25), tileWidth: 256, tileHeight: 256, quality: 95 })
    .toFile(join(dir, 'data', 'slides', `${ID}.tif`));
  const indexPath = join(dir, 'index.sqlite');
  await ingest({ dataDir: join(dir, 'data'), indexPath });
  app = (await serveIndex(join(dir, 'data'), indexPath)).app;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const base = `/iiif/3/${ID}`;
const fetch = (path: string, headers: Record<string, string> = {}) =>
  request(app).get(path).set(headers).buffer(true).parse(binary);
const image = async (region = 'full', size = 'max', rotation = '0', quality = 'default', format = 'jpg') => {
  const res = await fetch(`${base}/${region}/${size}/${rotation}/${quality}.${format}`);
  expect(res.status, `${region}/${size}/${rotation}/${quality}.${format}`).toBe(200);
  const { data, info } = await sharp(res.body as Buffer)
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels, res };
};
type Img = Awaited<ReturnType<typeof image>>;

/** The validator's square test: the most frequent colour of a crop is the square's colour (within 5). */
function matches(
  img: Img,
  box: { left: number; top: number; width: number; height: number },
  x: number,
  y: number,
): boolean {
  const counts = new Map<number, number>();
  for (let j = box.top; j < box.top + box.height; j++) {
    for (let i = box.left; i < box.left + box.width; i++) {
      const o = (j * img.width + i) * img.channels;
      const key = (img.data[o]! << 16) | (img.data[o + 1]! << 8) | img.data[o + 2]!;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  const top = [...counts].sort((a, b) => b[1] - a[1])[0]![0];
  const got = [top >> 16, (top >> 8) & 255, top & 255];
  return colours[x]![y]!.every((v, k) => Math.abs(v - got[k]!) < 6);
}

/** Squares of an image of the whole test image at `w` x `h`: each square's inner part, as the validator crops it. */
function squaresMatch(img: Img, pick: Array<[number, number]>): boolean {
  const sw = Math.floor((img.width / SIDE) * 100);
  const sh = Math.floor((img.height / SIDE) * 100);
  return pick.every(([x, y]) =>
    matches(img, { left: x * sw + 13, top: y * sh + 13, width: sw - 13, height: sh - 13 }, x, y),
  );
}

const SOME: Array<[number, number]> = [
  [0, 0],
  [9, 9],
  [3, 7],
  [8, 1],
  [5, 5],
];

describe('info.json (info_json, jsonld, cors, baseurl_redirect)', () => {
  it('has the required fields, the right id, context, protocol, profile and type', async () => {
    const res = await request(app).get(`${base}/info.json`).set('Host', 'validator.test');
    const info = JSON.parse(res.text);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(info).toMatchObject({
      '@context': 'http://iiif.io/api/image/3/context.json',
      id: `http://validator.test${base}`,
      protocol: 'http://iiif.io/api/image',
      profile: 'level2',
      type: 'ImageService3',
      width: SIDE,
      height: SIDE,
    });
    for (const s of info.sizes) expect([Number.isInteger(s.width), Number.isInteger(s.height)]).toEqual([true, true]);
    for (const t of info.tiles)
      expect([Number.isInteger(t.width), Array.isArray(t.scaleFactors)]).toEqual([true, true]);
    for (const k of ['extraQualities', 'extraFormats', 'extraFeatures', 'service', 'partOf'])
      expect(Array.isArray(info[k])).toBe(true);
    for (const item of [...info.service, ...info.partOf])
      expect([typeof (item.id ?? item['@id']), typeof (item.type ?? item['@type'])]).toEqual(['string', 'string']);
    for (const gone of ['license', 'attribution', 'logo']) expect(info).not.toHaveProperty(gone);
  });

  it('answers application/ld+json when asked, with CORS for any origin', async () => {
    const res = await request(app)
      .get(`${base}/info.json`)
      .set('Accept', 'application/ld+json')
      .set('Origin', 'http://iiif.io/');
    expect(res.headers['content-type']).toMatch(/^application\/ld\+json/);
    expect(res.headers['access-control-allow-origin']).toBe('*');
  });

  it('redirects the base URI to info.json', async () => {
    const res = await request(app).get(base);
    expect([res.status, res.headers['location']]).toEqual([303, `${base}/info.json`]);
  });
});

describe('identifiers (id_basic, id_squares, id_escaped, id_error_*)', () => {
  it('serves the image with its squares in place', async () => {
    const img = await image();
    expect([img.width, img.height]).toEqual([SIDE, SIDE]);
    const all: Array<[number, number]> = [];
    for (let x = 0; x < 10; x++) for (let y = 0; y < 10; y++) all.push([x, y]);
    expect(
      all.filter(([x, y]) => !matches(img, { left: x * 100 + 13, top: y * 100 + 13, width: 74, height: 74 }, x, y)),
    ).toEqual([]);
  });

  it('takes percent-escaped identifiers', async () => {
    expect((await fetch(`/iiif/3/${ID.replace(/-/g, '%2D')}/full/max/0/default.jpg`)).status).toBe(200);
  });

  it.each([
    ['a random identifier', '/iiif/3/0d8f2a52-d1b0-11e1-89ae-279075081939/full/max/0/default.jpg', [404]],
    ['an escaped slash', '/iiif/3/a%2Fb/full/max/0/default.jpg', [404]],
    ['unescaped brackets', '/iiif/3/[frob]/full/max/0/default.jpg', [400, 404]],
  ])('%s -> %j', async (_what, url, statuses) => {
    expect(statuses).toContain((await fetch(url)).status);
  });
});

describe('region (region_pixels, region_percent, region_square, region_error_random)', () => {
  it('by pixels', async () => {
    for (const [x, y] of SOME) {
      const img = await image(`${x * 100 + 13},${y * 100 + 13},74,74`);
      expect([img.width, img.height]).toEqual([74, 74]);
      expect(matches(img, { left: 0, top: 0, width: 74, height: 74 }, x, y)).toBe(true);
    }
  });

  it('by percent', async () => {
    for (const [x, y] of SOME) {
      const img = await image(`pct:${x * 10 + 1},${y * 10 + 1},9,9`);
      expect([img.width, img.height]).toEqual([90, 90]);
      expect(matches(img, { left: 0, top: 0, width: 90, height: 90 }, x, y)).toBe(true);
    }
  });

  it('square', async () => {
    const img = await image('square');
    expect(img.width).toBe(img.height);
  });

  it.each(['a7Zx:q', 'xyzzy1', '1,2,3', 'pct:a,b,c,d'])('%s -> 400', async (region) => {
    expect((await fetch(`${base}/${region}/max/0/default.jpg`)).status).toBe(400);
  });
});

describe('size (size_wc, size_ch, size_wh, size_bwh, size_percent, size_region, size_noup, size_nofull, size_error_random)', () => {
  it.each([
    ['500,', [500, 500]],
    ['733,', [733, 733]],
    [',451', [451, 451]],
    [',700', [700, 700]],
    ['600,400', [600, 400]],
    ['!600,400', [400, 400]],
    ['!372,713', [372, 372]],
    ['pct:45', [450, 450]],
    ['pct:73', [730, 730]],
  ])('%s', async (size, [w, h]) => {
    const img = await image('full', size);
    expect([img.width, img.height]).toEqual([w, h]);
    expect(squaresMatch(img, SOME)).toBe(true);
  });

  it('a region at a size', async () => {
    for (const [x, y] of SOME) {
      const img = await image(`${x * 100},${y * 100},100,100`, '57,57');
      expect([img.width, img.height]).toEqual([57, 57]);
      expect(matches(img, { left: 0, top: 0, width: 57, height: 57 }, x, y)).toBe(true);
    }
  });

  it.each(['1500,1500', ',1200', '1100,', 'pct:200', '!2000,3000', 'full', 'xyzzy1', '!,7'])(
    '%s -> 400 (no upscaling without ^; 3.0 has no "full")',
    async (size) => {
      expect((await fetch(`${base}/full/${size}/0/default.jpg`)).status).toBe(400);
    },
  );

  it('upscales with ^ (size_up, beyond level 2 but declared as sizeUpscaling)', async () => {
    for (const [size, side] of [
      ['^1500,1500', 1500],
      ['^,1200', 1200],
      ['^pct:150', 1500],
      ['^!2000,1500', 1500],
    ] as const) {
      const img = await image('full', size);
      expect([img.width, img.height]).toEqual([side, side]);
      expect(squaresMatch(img, SOME)).toBe(true);
    }
  });
});

describe('rotation (rot_full_basic, rot_region_basic, rot_mirror, rot_mirror_180, rot_error_random)', () => {
  /** The square seen at the top-left and bottom-right corners of a rotated full image. */
  it.each([
    ['180', [9, 9], [0, 0]],
    ['90', [0, 9], [9, 0]],
    ['270', [9, 0], [0, 9]],
    ['!0', [9, 0], [0, 9]],
    ['!180', [0, 9], [9, 0]],
  ] as const)('%s', async (rotation, topLeft, bottomRight) => {
    const img = await image('full', 'max', rotation);
    expect(img.width).toBe(SIDE);
    expect(matches(img, { left: 12, top: 12, width: 64, height: 64 }, topLeft[0], topLeft[1])).toBe(true);
    expect(matches(img, { left: 912, top: 912, width: 64, height: 64 }, bottomRight[0], bottomRight[1])).toBe(true);
  });

  it('a rotated region', async () => {
    for (const [x, y] of SOME) {
      const img = await image(`${x * 100 + 13},${y * 100 + 13},76,76`, 'max', '180');
      expect(img.width).toBe(76);
      expect(matches(img, { left: 0, top: 0, width: 76, height: 76 }, x, y)).toBe(true);
    }
  });

  it.each(['a7Zx', 'q9:!', '-90', '400'])('%s -> 400', async (rotation) => {
    expect((await fetch(`${base}/full/max/${rotation}/default.jpg`)).status).toBe(400);
  });
});

describe('quality and format (quality_*, format_jpg, format_png, format_error_random)', () => {
  it('color is RGB, gray is grey, bitonal is black and white', async () => {
    expect((await image('full', 'max', '0', 'color')).channels).toBe(3);
    const gray = await fetch(`${base}/full/max/0/gray.jpg`);
    expect((await sharp(gray.body as Buffer).metadata()).channels).toBe(1);
    const bitonal = await image('full', 'max', '0', 'bitonal', 'png');
    const values = new Set<number>();
    for (let i = 0; i < bitonal.data.length; i++) values.add(bitonal.data[i]!);
    expect([...values].sort((a, b) => a - b)).toEqual([0, 255]);
  });

  it('jpg is JPEG and png is PNG', async () => {
    const jpg = await fetch(`${base}/full/max/0/default.jpg`);
    expect([jpg.headers['content-type'], (await sharp(jpg.body as Buffer).metadata()).format]).toEqual([
      'image/jpeg',
      'jpeg',
    ]);
    const png = await fetch(`${base}/full/max/0/default.png`);
    expect([png.headers['content-type'], (await sharp(png.body as Buffer).metadata()).format]).toEqual([
      'image/png',
      'png',
    ]);
  });

  it.each(['q1w2e3', 'grey', 'native'])('quality %s -> 400', async (q) => {
    expect((await fetch(`${base}/full/max/0/${q}.jpg`)).status).toBe(400);
  });

  it.each(['x7q', 'tif', 'gif'])('format %s -> 400', async (f) => {
    expect((await fetch(`${base}/full/max/0/default.${f}`)).status).toBe(400);
  });
});
