/**
 * Several scales around one centre (issue #13, section 1), over HTTP on the demo dataset (its
 * slides are scanned at 0.243 and 0.226 um/px): descriptors, batches byte-identical to /region,
 * padding past the edge, the same field of view by mpp on both scanners, and bad input.
 */
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { untar } from '../support/tar.js';
import { binary, serveDemo, type Served } from '../support/app-fixture.js';

let s: Served;
beforeAll(async () => {
  s = await serveDemo();
}, 120_000);
afterAll(() => s.cleanup());

interface Scale {
  x: number;
  y: number;
  sizeL0: number;
  level: number;
  mpp?: number;
  width: number;
  height: number;
  fractions: Record<string, number>;
  imageUrl: string;
  maskUrl: string;
}
interface Item {
  index: number;
  slideId: string;
  x: number;
  y: number;
  sizeL0: number;
  width: number;
  class: string;
  fractions: Record<string, number>;
  imageUrl: string;
  maskUrl: string;
  scales?: Scale[];
}

const samples = async (body: object) => {
  const res = await request(s.app).post('/samples').send(body);
  if (res.status !== 200) throw new Error(`${res.status} ${JSON.stringify(res.body)}`);
  return res.body as { items: Item[] };
};
const get = async (url: string) => {
  const res = await request(s.app).get(url).buffer(true).parse(binary);
  if (res.status !== 200) throw new Error(`${url}: ${res.status} ${res.body}`);
  return res.body as Buffer;
};
const batch = async (body: object) => {
  const res = await request(s.app).post('/batches').send(body).buffer(true).parse(binary);
  if (res.status !== 200) throw new Error(`${res.status} ${res.body}`);
  return untar(res.body as Buffer);
};
type Detail = { mpp: { x: number }; levels: Array<{ downsample: number }> };
const detail = async (id: string) => (await request(s.app).get(`/slides/${id}`)).body as Detail;
const mppOf = async (id: string) => (await detail(id)).mpp.x;

const SCALES = [
  { mpp: 0.5, size: 64 },
  { mpp: 2, size: 64 },
  { level: 1, size: 48 },
];
const BASE = { classes: ['metastasis', 'adipose'], minFraction: 0.5, count: 6, seed: 11, scales: SCALES };

describe('scales in /samples', () => {
  it('gives every scale in the order asked, centred on the first within half an output pixel', async () => {
    const { items } = await samples(BASE);
    expect(items).toHaveLength(6);
    for (const it of items) {
      const sc = it.scales!;
      expect(sc.map((x) => [x.width, x.height])).toEqual([
        [64, 64],
        [64, 64],
        [48, 48],
      ]);
      const { mpp, levels } = await detail(it.slideId);
      const slideMpp = mpp.x;
      expect(sc[0]!.sizeL0).toBeCloseTo((64 * 0.5) / slideMpp, 9);
      expect(sc[1]!.sizeL0).toBeCloseTo((64 * 2) / slideMpp, 9);
      expect(sc[2]!.sizeL0).toBeCloseTo(48 * levels[1]!.downsample, 3); // the detail rounds downsamples
      expect([sc[0]!.mpp, sc[1]!.mpp, sc[2]!.level]).toEqual([0.5, 2, 1]);
      // A coarse scale by mpp is read from the coarsest level not coarser than it, not from level 0.
      const l0PerPixel = 2 / slideMpp;
      const want = levels.findLastIndex((l) => l.downsample <= l0PerPixel * 1.001);
      expect(want).toBeGreaterThan(0);
      expect(sc[1]!.level).toBe(want);
      expect(sc[2]!.mpp).toBeCloseTo(slideMpp * levels[1]!.downsample, 5);
      // The top level is the first scale: the sampled patch.
      expect([sc[0]!.x, sc[0]!.y, sc[0]!.sizeL0, sc[0]!.fractions]).toEqual([it.x, it.y, it.sizeL0, it.fractions]);
      expect([sc[0]!.imageUrl, sc[0]!.maskUrl]).toEqual([it.imageUrl, it.maskUrl]);
      const cx = it.x + it.sizeL0 / 2;
      const cy = it.y + it.sizeL0 / 2;
      for (const k of sc) {
        const l0PerPixel = k.sizeL0 / k.width;
        expect(Math.abs(k.x + k.sizeL0 / 2 - cx) / l0PerPixel).toBeLessThanOrEqual(0.5);
        expect(Math.abs(k.y + k.sizeL0 / 2 - cy) / l0PerPixel).toBeLessThanOrEqual(0.5);
        expect(Number.isInteger(k.x) && Number.isInteger(k.y)).toBe(true);
        expect(k.imageUrl).toContain(`x=${k.x}&y=${k.y}&width=${k.width}&height=${k.height}&`);
      }
      expect(sc[1]!.imageUrl).toMatch(/&mpp=2&format=jpeg$/);
      expect(sc[2]!.maskUrl).toMatch(/&level=1&layer=mask$/);
    }
  });

  it('samples by the first scale: the same patches as a single-scale request for it', async () => {
    const multi = await samples(BASE);
    const single = await samples({ ...BASE, scales: undefined, mpp: 0.5, size: 64 });
    expect(multi.items.map((i) => [i.slideId, i.x, i.y, i.class])).toEqual(
      single.items.map((i) => [i.slideId, i.x, i.y, i.class]),
    );
    for (const it of multi.items) expect(it.scales![0]!.fractions[it.class]).toBeGreaterThanOrEqual(0.5);
  });

  it('gives each scale the label fractions its mask shows (at label resolution or coarser)', async () => {
    // A level-2 scale of 32 px covers 128 level-0 px: label pixels (demo downsample <= 128) map whole.
    const { items } = await samples({
      ...BASE,
      scales: [
        { level: 0, size: 64 },
        { level: 3, size: 32 },
      ],
    });
    const names = (await request(s.app).get('/classes')).body.items.map((c: { name: string }) => c.name);
    for (const it of items) {
      const k = it.scales![1]!;
      const mask = await get(`${k.maskUrl}&format=raw`);
      const counts: Record<string, number> = {};
      for (const v of mask) counts[names[v]] = (counts[names[v]] ?? 0) + 1 / mask.length;
      for (const [name, f] of Object.entries(k.fractions)) expect(counts[name] ?? 0).toBeCloseTo(f, 1);
    }
  });
});

describe('scales in /batches', () => {
  it.each(['png', 'raw'])('%s: each scale is byte for byte its /region URL, image and mask', async (format) => {
    const body = { ...BASE, count: 3, format };
    const { items } = await samples(body);
    const tar = await batch(body);
    const maskExt = format === 'raw' ? 'raw' : 'png';
    for (const it of items) {
      const key = String(it.index).padStart(6, '0');
      const names = [
        ...it.scales!.flatMap((_, k) => [`${key}.img.${k}.${format}`, `${key}.mask.${k}.${maskExt}`]),
        `${key}.json`,
      ];
      expect([...tar.keys()].filter((n) => n.startsWith(key))).toEqual(names);
      expect(JSON.parse(tar.get(`${key}.json`)!.toString())).toEqual(it);
      for (const [k, sc] of it.scales!.entries()) {
        expect(tar.get(`${key}.img.${k}.${format}`)!.equals(await get(sc.imageUrl))).toBe(true);
        const mask = await get(format === 'raw' ? `${sc.maskUrl}&format=raw` : sc.maskUrl);
        expect(tar.get(`${key}.mask.${k}.${maskExt}`)!.equals(mask)).toBe(true);
        if (format === 'raw') expect(tar.get(`${key}.img.${k}.raw`)!.length).toBe(sc.width * sc.height * 3);
      }
    }
  });

  it('pads a scale that reaches past the slide edge (white glass, label 0), never shifting it', async () => {
    // 64 px at 16 um/px is ~4,200 level-0 px a side: wider than tumor_002 at the tests' scale.
    const body = {
      ...BASE,
      slides: ['tumor_002'],
      count: 2,
      format: 'raw',
      scales: [
        { mpp: 1, size: 64 },
        { mpp: 16, size: 64 },
      ],
    };
    const { items } = await samples(body);
    const tar = await batch(body);
    const slide = (await request(s.app).get('/slides/tumor_002')).body as {
      width: number;
      height: number;
      mpp: { x: number };
    };
    for (const it of items) {
      const k = it.scales![1]!;
      const l0PerPixel = 16 / slide.mpp.x;
      expect(k.sizeL0).toBeCloseTo(64 * l0PerPixel, 9);
      expect(k.x).toBeLessThan(0); // off the left edge: kept where the centre puts it
      expect(Math.abs(k.x + k.sizeL0 / 2 - (it.x + it.sizeL0 / 2))).toBeLessThanOrEqual(0.5);
      const key = String(it.index).padStart(6, '0');
      const img = tar.get(`${key}.img.1.raw`)!;
      const mask = tar.get(`${key}.mask.1.raw`)!;
      // Output columns whose pixel centre lies left of level-0 x = 0 are off the slide.
      const offCols = Math.floor(-k.x / l0PerPixel - 0.5);
      expect(offCols).toBeGreaterThan(2);
      for (let row = 0; row < 64; row++) {
        for (let col = 0; col < offCols - 1; col++) {
          expect([...img.subarray((row * 64 + col) * 3, (row * 64 + col) * 3 + 3)]).toEqual([255, 255, 255]);
          expect(mask[row * 64 + col]).toBe(0);
        }
      }
      // Not shifted: the labelled part of the mask starts right of the padding.
      expect(mask.some((v) => v !== 0)).toBe(true);
      expect(k.fractions.unlabelled).toBeGreaterThan(0);
    }
  });
});

describe('the same field of view by mpp on slides of different scanners', () => {
  it('covers the same micrometres on a 0.243 and a 0.226 um/px slide, within a pixel', async () => {
    const [a, b] = [await mppOf('tumor_001'), await mppOf('tumor_002')];
    expect(a).toBeCloseTo(0.243, 6);
    expect(b).toBeCloseTo(0.226, 6);
    const scales = [
      { mpp: 0.5, size: 64 },
      { mpp: 2, size: 64 },
      { mpp: 8, size: 32 },
    ];
    const um = async (slide: string, mpp: number) => {
      const { items } = await samples({ classes: ['adipose'], minFraction: 0.3, slides: [slide], count: 2, scales });
      return items.map((it) =>
        it.scales!.map((k) => {
          // The pixels really served: the image is width x height at the scale's mpp.
          expect(k.width).toBe(k.height);
          return { um: k.sizeL0 * mpp, umPerPixel: (k.sizeL0 * mpp) / k.width, l0: k.sizeL0 };
        }),
      );
    };
    const onA = await um('tumor_001', a);
    const onB = await um('tumor_002', b);
    for (const [k, want] of scales.entries()) {
      for (const got of [...onA.map((i) => i[k]!), ...onB.map((i) => i[k]!)]) {
        expect(Math.abs(got.um - want.size * want.mpp)).toBeLessThan(want.mpp); // within one output pixel
        expect(got.umPerPixel).toBeCloseTo(want.mpp, 9);
      }
      // ...which are different level-0 extents on the two scanners.
      expect(onA[0]![k]!.l0 / onB[0]![k]!.l0).toBeCloseTo(b / a, 9);
    }
    // And the pixels: the 2 um/px scale of a tumor_002 patch is the /region of its rectangle at that mpp.
    const { items } = await samples({
      classes: ['adipose'],
      minFraction: 0.3,
      slides: ['tumor_002'],
      count: 1,
      scales,
    });
    const k = items[0]!.scales![1]!;
    const viaRegion = await get(`/slides/tumor_002/region?x=${k.x}&y=${k.y}&width=64&height=64&mpp=2&format=raw`);
    expect((await get(k.imageUrl.replace('format=jpeg', 'format=raw'))).equals(viaRegion)).toBe(true);
  });
});

/** Body fields -> status, code and the start of the detail (which names the field). */
const BAD_SCALES: Array<[object, number, string, string]> = [
  [{ scales: [] }, 400, 'VALIDATION_FAILED', 'body.scales must NOT have fewer than 1 items'],
  [
    { scales: Array(5).fill({ mpp: 1, size: 64 }) },
    400,
    'VALIDATION_FAILED',
    'body.scales must NOT have more than 4 items',
  ],
  [
    {
      scales: [
        { mpp: 1, size: 64 },
        { mpp: 1, size: 4096 },
      ],
    },
    400,
    'VALIDATION_FAILED',
    'body.scales[1].size must be <= 2048',
  ],
  [
    {
      scales: [
        { mpp: 1, size: 64 },
        { mpp: 0.01, size: 64 },
      ],
    },
    400,
    'VALIDATION_FAILED',
    'body.scales[1].mpp must be >= 0.05',
  ],
  [
    {
      scales: [
        { mpp: 1, size: 64 },
        { level: -1, size: 64 },
      ],
    },
    400,
    'VALIDATION_FAILED',
    'body.scales[1].level must be >= 0',
  ],
  [{ scales: [{ mpp: 1, size: 64, zoom: 2 }] }, 400, 'VALIDATION_FAILED', 'body.scales[0].zoom is not a field here'],
  [{ scales: [{ mpp: 1, size: 64 }], size: 64 }, 400, 'VALIDATION_FAILED', 'body.scales and body.size cannot be mixed'],
  [{ scales: [{ mpp: 1, size: 64 }], mpp: 1 }, 400, 'VALIDATION_FAILED', 'body.scales and body.mpp cannot be mixed'],
  [
    { scales: [{ mpp: 1, size: 64 }], level: 0 },
    400,
    'VALIDATION_FAILED',
    'body.scales and body.level cannot be mixed',
  ],
  [
    {
      scales: [
        { mpp: 1, size: 64 },
        { mpp: 1, level: 1, size: 64 },
      ],
    },
    400,
    'VALIDATION_FAILED',
    'body.scales[1]: give level or mpp, not both',
  ],
  [{ scales: [{ mpp: 1, size: 64 }, { size: 64 }] }, 400, 'VALIDATION_FAILED', 'body.scales[1] needs level or mpp'],
  [
    {
      scales: [
        { mpp: 1, size: 2048 },
        { mpp: 4, size: 2048 },
      ],
    },
    413,
    'SAMPLE_TOO_LARGE',
    'body.scales: 2048^2 + 2048^2',
  ],
  [
    {
      scales: [
        { mpp: 1, size: 64 },
        { mpp: 0.1, size: 64 },
      ],
    },
    422,
    'MPP_TOO_FINE',
    'body.scales[1].mpp: slide',
  ],
  [
    {
      scales: [
        { mpp: 1, size: 64 },
        { level: 9, size: 64 },
      ],
    },
    422,
    'LEVEL_OUT_OF_RANGE',
    'body.scales[1].level: slide',
  ],
  [
    {
      scales: [
        { mpp: 1, size: 64 },
        { mpp: 100, size: 2000 },
      ],
    },
    413,
    'REGION_TOO_LARGE',
    'body.scales[1].mpp: on slide',
  ],
];

describe('bad scales', () => {
  const classes = ['adipose'];
  it.each(BAD_SCALES)('%o: %s %s', async (extra, status, code, detail) => {
    for (const path of ['/samples', '/batches']) {
      const res = await request(s.app)
        .post(path)
        .send({ classes, ...extra });
      expect(res.status, path).toBe(status);
      expect(res.headers['content-type']).toMatch(/problem\+json/);
      expect(res.body.code).toBe(code);
      expect(res.body.detail).toContain(detail);
    }
  });

  it('names the scale when a named slide cannot serve it', async () => {
    const res = await request(s.app)
      .post('/samples')
      .send({
        classes,
        slides: ['tumor_001'],
        scales: [
          { level: 0, size: 64 },
          { level: 12, size: 8 },
        ],
      });
    expect(res.status).toBe(422);
    expect(res.body.detail).toMatch(/^body\.scales\[1\]\.level: slide "tumor_001" has levels 0\.\.\d+, not 12$/);
  });
});
