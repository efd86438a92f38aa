import { describe, expect, it } from 'vitest';
import { alignedStoredTile, infoJson, levelScaleFactor, manifestJson, scaleFactors } from '../../src/iiif/info.js';
import { orient } from '../../src/iiif/orient.js';
import type { Rotation } from '../../src/iiif/params.js';

/** A Camelyon16-like pyramid: 512 px tiles, levels halving (rounded down) from 10,000 x 7,001. */
const FULL = { width: 10_000, height: 7_001 };
const LEVELS = [
  { width: 10_000, height: 7_001, downsample: 1 },
  { width: 5_000, height: 3_500, downsample: 2.0001 },
  { width: 2_500, height: 1_750, downsample: 4.0003 },
  { width: 1_250, height: 875, downsample: 8.0006 },
];
const TILE = { width: 512, height: 512 };
const plain = {
  rotation: { mirror: false, degrees: 0 } as Rotation,
  quality: 'default' as const,
  format: 'jpg' as const,
};

describe('scale factors', () => {
  it.each([
    [10_000, 7_001, 512, [1, 2, 4, 8, 16, 32]],
    [512, 512, 512, [1]],
    [513, 10, 512, [1, 2]],
    [97_792, 221_184, 512, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]],
  ])('%i x %i, tiles of %i', (w, h, t, expected) => {
    expect(scaleFactors(w, h, t)).toEqual(expected);
  });

  it.each([
    [{ width: 5_000, height: 3_500 }, 2],
    [{ width: 5_000, height: 3_501 }, 2],
    [{ width: 2_500, height: 1_750 }, 4],
    [{ width: 3_333, height: 2_334 }, null],
    [{ width: 5_000, height: 3_000 }, null],
  ])('level %o is scale factor %s', (level, sf) => {
    expect(levelScaleFactor(FULL, level)).toBe(sf);
  });
});

describe('aligned stored tiles', () => {
  it.each([
    // region (level-0), size, stored tile
    [{ x: 0, y: 0, w: 512, h: 512 }, 512, { level: 0, tx: 0, ty: 0 }],
    [{ x: 9_216, y: 6_144, w: 512, h: 512 }, 512, { level: 0, tx: 18, ty: 12 }],
    [{ x: 1_024, y: 2_048, w: 1_024, h: 1_024 }, 512, { level: 1, tx: 1, ty: 2 }],
    [{ x: 4_096, y: 0, w: 4_096, h: 4_096 }, 512, { level: 3, tx: 1, ty: 0 }],
    // Level 3 is 1,250 wide: its column 2 (1,024..1,536) sticks out.
    [{ x: 8_192, y: 0, w: 4_096, h: 4_096 }, 512, null],
    // Level 1 is 3,500 high: its row 6 (3,072..3,584) sticks out, so it is rendered.
    [{ x: 0, y: 6_144, w: 1_024, h: 857 }, 512, null],
    [{ x: 0, y: 6_144, w: 1_024, h: 1_024 }, 512, null],
    // Right size, wrong place or wrong scale.
    [{ x: 256, y: 0, w: 512, h: 512 }, 512, null],
    [{ x: 0, y: 0, w: 512, h: 512 }, 256, null],
    [{ x: 0, y: 0, w: 2_048, h: 2_048 }, 1_024, null],
    // Scale factor 16 has no stored level.
    [{ x: 0, y: 0, w: 8_192, h: 7_001 }, 512, null],
  ])('%o at %i px -> %o', (rect, side, expected) => {
    expect(alignedStoredTile(FULL, LEVELS, TILE, { rect, size: { width: side, height: side }, ...plain })).toEqual(
      expected,
    );
  });

  it('only jpg, default or color, unrotated, unmirrored requests pass through', () => {
    const req = { rect: { x: 0, y: 0, w: 512, h: 512 }, size: { width: 512, height: 512 } };
    expect(alignedStoredTile(FULL, LEVELS, TILE, { ...req, ...plain, quality: 'color' })).not.toBeNull();
    expect(alignedStoredTile(FULL, LEVELS, TILE, { ...req, ...plain, quality: 'gray' })).toBeNull();
    expect(alignedStoredTile(FULL, LEVELS, TILE, { ...req, ...plain, format: 'png' })).toBeNull();
    expect(
      alignedStoredTile(FULL, LEVELS, TILE, { ...req, ...plain, rotation: { mirror: false, degrees: 90 } }),
    ).toBeNull();
    expect(
      alignedStoredTile(FULL, LEVELS, TILE, { ...req, ...plain, rotation: { mirror: true, degrees: 0 } }),
    ).toBeNull();
    expect(alignedStoredTile(FULL, LEVELS, { width: 512, height: 256 }, { ...req, ...plain })).toBeNull();
  });
});

describe('info.json', () => {
  const model = {
    id: 'http://h/iiif/3/s',
    kind: 'image' as const,
    ...FULL,
    levels: LEVELS,
    tileSize: 512,
    maxArea: 16_000_000,
    mppX: 0.25,
    manifest: 'http://h/slides/s/manifest.json',
  };

  it('describes a slide at level 2 with its tiles, sizes and physical scale', () => {
    expect(infoJson(model)).toEqual({
      '@context': 'http://iiif.io/api/image/3/context.json',
      id: 'http://h/iiif/3/s',
      type: 'ImageService3',
      protocol: 'http://iiif.io/api/image',
      profile: 'level2',
      width: 10_000,
      height: 7_001,
      maxArea: 16_000_000,
      // Levels 0 (70 Mpx) and 1 (17.5 Mpx) are above maxArea: not offered as whole-image sizes.
      sizes: [
        { width: 1_250, height: 875 },
        { width: 2_500, height: 1_750 },
      ],
      tiles: [{ width: 512, height: 512, scaleFactors: [1, 2, 4, 8, 16, 32] }],
      extraFormats: ['webp'],
      extraQualities: ['gray', 'bitonal'],
      extraFeatures: expect.arrayContaining(['mirroring', 'sizeUpscaling', 'rotationBy90s', 'regionSquare']),
      partOf: [{ id: 'http://h/slides/s/manifest.json', type: 'Manifest' }],
      service: [
        {
          '@context': 'http://iiif.io/api/annex/services/physdim/1/context.json',
          id: 'http://h/iiif/3/s#physdim',
          type: 'PhysicalDimensions',
          profile: 'http://iiif.io/api/annex/services/physdim',
          physicalScale: 0.00025,
          physicalUnits: 'mm',
        },
      ],
    });
  });

  it('label images are png only, with no physical service when the mpp is unknown', () => {
    const info = infoJson({ ...model, kind: 'mask', mppX: null });
    expect(info).toMatchObject({
      profile: 'level0',
      preferredFormats: ['png'],
      extraFormats: ['png'],
      extraQualities: [],
    });
    expect(info).not.toHaveProperty('service');
  });
});

describe('manifest', () => {
  const m = {
    id: 'http://h/slides/s/manifest.json',
    iiifBase: 'http://h/iiif/3',
    slideId: 's',
    label: 'S.tif',
    width: 100,
    height: 50,
    mppX: null,
    labelled: true,
    metadata: [{ label: 'Slide id', value: 's' }],
  };

  it('paints the slide and its two label layers as a Choice on one canvas', () => {
    const doc = manifestJson(m) as {
      items: Array<{
        id: string;
        width: number;
        items: Array<{
          items: Array<{
            target: string;
            body: { type: string; items: Array<{ id: string; format: string; service: Array<{ id: string }> }> };
          }>;
        }>;
      }>;
    };
    const canvas = doc.items[0]!;
    expect(canvas).toMatchObject({ id: 'http://h/slides/s/canvas/1', type: 'Canvas', width: 100, height: 50 });
    const anno = canvas.items[0]!.items[0]!;
    expect(anno.target).toBe(canvas.id);
    expect(anno.body.type).toBe('Choice');
    expect(anno.body.items.map((i) => [i.service[0]!.id, i.format, i.id])).toEqual([
      ['http://h/iiif/3/s', 'image/jpeg', 'http://h/iiif/3/s/full/max/0/default.jpg'],
      ['http://h/iiif/3/s~overlay', 'image/png', 'http://h/iiif/3/s~overlay/full/max/0/default.png'],
      ['http://h/iiif/3/s~mask', 'image/png', 'http://h/iiif/3/s~mask/full/max/0/default.png'],
    ]);
  });

  it('an unlabelled slide paints the image alone', () => {
    const doc = manifestJson({ ...m, labelled: false }) as {
      items: Array<{ items: Array<{ items: Array<{ body: { type: string } }> }> }>;
    };
    expect(doc.items[0]!.items[0]!.items[0]!.body.type).toBe('Image');
  });
});

describe('orient', () => {
  // 3 x 2, one channel: a b c / d e f
  const px = { data: Uint8Array.from([1, 2, 3, 4, 5, 6]), width: 3, height: 2, channels: 1 };
  it.each([
    [false, 0, 3, [1, 2, 3, 4, 5, 6]],
    [false, 90, 2, [4, 1, 5, 2, 6, 3]],
    [false, 180, 3, [6, 5, 4, 3, 2, 1]],
    [false, 270, 2, [3, 6, 2, 5, 1, 4]],
    [true, 0, 3, [3, 2, 1, 6, 5, 4]],
    [true, 90, 2, [6, 3, 5, 2, 4, 1]],
    [true, 180, 3, [4, 5, 6, 1, 2, 3]],
    [true, 270, 2, [1, 4, 2, 5, 3, 6]],
  ] as const)('mirror %s, %i degrees', (mirror, degrees, width, data) => {
    const out = orient(px, { mirror, degrees });
    expect([out.width, [...out.data]]).toEqual([width, data]);
  });

  it('moves whole pixels of several channels', () => {
    const rgb = { data: Uint8Array.from([1, 1, 1, 2, 2, 2]), width: 2, height: 1, channels: 3 };
    expect([...orient(rgb, { mirror: false, degrees: 90 }).data]).toEqual([1, 1, 1, 2, 2, 2]);
    expect([...orient(rgb, { mirror: true, degrees: 0 }).data]).toEqual([2, 2, 2, 1, 1, 1]);
  });
});
