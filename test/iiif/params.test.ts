import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import {
  canonical,
  outputSize,
  parseQualityFormat,
  parseRegion,
  parseRotation,
  parseSize,
  regionRect,
  rotatedSize,
} from '../../src/iiif/params.js';

/** The status and code an input fails with, or 'ok'. */
function outcome(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (e) {
    if (e instanceof AppError) return `${e.status} ${e.code}`;
    throw e;
  }
}

const LIMITS = { maxArea: 4_000_000 };

describe('region', () => {
  it.each([
    // region, image w x h, rectangle
    ['full', 1000, 800, { x: 0, y: 0, w: 1000, h: 800 }],
    ['square', 1000, 800, { x: 100, y: 0, w: 800, h: 800 }],
    ['square', 801, 1000, { x: 0, y: 99, w: 801, h: 801 }],
    ['125,15,120,140', 1000, 800, { x: 125, y: 15, w: 120, h: 140 }],
    ['900,700,500,500', 1000, 800, { x: 900, y: 700, w: 100, h: 100 }],
    ['0,0,1,1', 1000, 800, { x: 0, y: 0, w: 1, h: 1 }],
    ['pct:10,20,30,40', 1000, 800, { x: 100, y: 160, w: 300, h: 320 }],
    ['pct:41.6,7.5,40,70', 1000, 800, { x: 416, y: 60, w: 400, h: 560 }],
    // Edges round to the nearest pixel; abutting percentages abut in pixels (3 + 4 = 7).
    ['pct:0,0,33.3,33.3', 10, 10, { x: 0, y: 0, w: 3, h: 3 }],
    ['pct:33.3,33.3,33.4,33.4', 10, 10, { x: 3, y: 3, w: 4, h: 4 }],
    ['pct:.5,0,100,100', 1000, 800, { x: 5, y: 0, w: 995, h: 800 }],
    ['pct:50,50,80,80', 1000, 800, { x: 500, y: 400, w: 500, h: 400 }],
  ] as const)('%s on %i x %i', (raw, w, h, rect) => {
    expect(regionRect(parseRegion(raw), w, h)).toEqual(rect);
  });

  it.each([
    ['', '400 INVALID_REGION'],
    ['Full', '400 INVALID_REGION'],
    ['1,2,3', '400 INVALID_REGION'],
    ['1,2,3,4,5', '400 INVALID_REGION'],
    ['-1,0,10,10', '400 INVALID_REGION'],
    ['0,0,0,10', '400 INVALID_REGION'],
    ['0,0,10,0', '400 INVALID_REGION'],
    ['1.5,0,10,10', '400 INVALID_REGION'],
    ['pct:0,0,0,10', '400 INVALID_REGION'],
    ['pct:1e2,0,10,10', '400 INVALID_REGION'],
    ['pct:-1,0,10,10', '400 INVALID_REGION'],
    ['1000,0,10,10', '400 REGION_OUTSIDE'],
    ['0,800,10,10', '400 REGION_OUTSIDE'],
    ['pct:100,0,10,10', '400 REGION_OUTSIDE'],
    ['pct:0,0,0.01,50', '400 REGION_OUTSIDE'],
  ])('%s -> %s', (raw, expected) => {
    expect(outcome(() => regionRect(parseRegion(raw), 1000, 800))).toBe(expected);
  });
});

describe('size', () => {
  it.each([
    // size, region w x h, output
    ['max', 1000, 800, [1000, 800]],
    ['max', 4000, 4000, [2000, 2000]],
    ['max', 3000, 2000, [2449, 1632]],
    ['^max', 1000, 1000, [2000, 2000]],
    ['^max', 100, 50, [2828, 1414]],
    ['500,', 1000, 800, [500, 400]],
    ['333,', 1000, 800, [333, 266]],
    ['1,', 1000, 3, [1, 1]],
    [',400', 1000, 800, [500, 400]],
    [',333', 1000, 800, [416, 333]],
    ['pct:50', 1000, 800, [500, 400]],
    ['pct:33.3', 1000, 800, [333, 266]],
    ['pct:100', 1000, 800, [1000, 800]],
    ['^pct:150', 1000, 800, [1500, 1200]],
    ['200,100', 1000, 800, [200, 100]],
    ['1000,800', 1000, 800, [1000, 800]],
    ['^1200,100', 1000, 800, [1200, 100]],
    // !w,h: the smaller scale wins; the constrained side is exact.
    ['!500,500', 1000, 800, [500, 400]],
    ['!500,300', 1000, 800, [375, 300]],
    ['!2000,500', 1000, 1000, [500, 500]],
    ['!333,1000', 1000, 800, [333, 266]],
    // As large as the box allows: with ^ that may be larger than the region (without ^: a 400, below).
    ['!1000,3000', 1000, 1000, [1000, 1000]],
    ['^!2000,3000', 1000, 1000, [2000, 2000]],
    ['^!2000,500', 1000, 1000, [500, 500]],
    ['^1500,', 1000, 800, [1500, 1200]],
    ['^,1600', 1000, 800, [2000, 1600]],
  ] as const)('%s of %i x %i', (raw, rw, rh, [w, h]) => {
    expect(outputSize(parseSize(raw), rw, rh, LIMITS)).toEqual({ width: w, height: h });
  });

  it.each([
    ['', '400 INVALID_SIZE'],
    ['full', '400 INVALID_SIZE'],
    [',', '400 INVALID_SIZE'],
    ['!500,', '400 INVALID_SIZE'],
    ['!,500', '400 INVALID_SIZE'],
    ['-5,', '400 INVALID_SIZE'],
    ['5.5,', '400 INVALID_SIZE'],
    ['pct:', '400 INVALID_SIZE'],
    ['pct:-1', '400 INVALID_SIZE'],
    ['^^max', '400 INVALID_SIZE'],
    ['0,', '400 INVALID_SIZE'],
    [',0', '400 INVALID_SIZE'],
    ['pct:0', '400 INVALID_SIZE'],
    ['pct:0.01', '400 INVALID_SIZE'],
    ['1001,', '400 UPSCALE_NOT_REQUESTED'],
    [',801', '400 UPSCALE_NOT_REQUESTED'],
    ['1001,800', '400 UPSCALE_NOT_REQUESTED'],
    ['1000,801', '400 UPSCALE_NOT_REQUESTED'],
    ['pct:100.1', '400 UPSCALE_NOT_REQUESTED'],
    // !w,h whose best fit is larger than the region: the validator's size_noup case.
    ['!2000,3000', '400 UPSCALE_NOT_REQUESTED'],
    ['!1001,900', '400 UPSCALE_NOT_REQUESTED'],
    ['^3000,', '400 SIZE_TOO_LARGE'],
    ['^pct:300', '400 SIZE_TOO_LARGE'],
    ['^2001,2000', '400 SIZE_TOO_LARGE'],
  ])('%s of 1000 x 800 -> %s', (raw, expected) => {
    expect(outcome(() => outputSize(parseSize(raw), 1000, 800, LIMITS))).toBe(expected);
  });
});

describe('rotation', () => {
  it.each([
    ['0', false, 0],
    ['90', false, 90],
    ['180', false, 180],
    ['270', false, 270],
    ['360', false, 0],
    ['90.0', false, 90],
    ['!0', true, 0],
    ['!180', true, 180],
  ] as const)('%s', (raw, mirror, degrees) => {
    expect(parseRotation(raw)).toEqual({ mirror, degrees });
  });

  it.each([
    ['45', '501 ROTATION_NOT_SUPPORTED'],
    ['!22.5', '501 ROTATION_NOT_SUPPORTED'],
    ['361', '400 INVALID_ROTATION'],
    ['-90', '400 INVALID_ROTATION'],
    ['abc', '400 INVALID_ROTATION'],
    ['', '400 INVALID_ROTATION'],
    ['!!90', '400 INVALID_ROTATION'],
  ])('%s -> %s', (raw, expected) => {
    expect(outcome(() => parseRotation(raw))).toBe(expected);
  });

  it('90 and 270 swap the sides', () => {
    expect(rotatedSize({ width: 3, height: 2 }, { mirror: false, degrees: 90 })).toEqual({ width: 2, height: 3 });
    expect(rotatedSize({ width: 3, height: 2 }, { mirror: true, degrees: 180 })).toEqual({ width: 3, height: 2 });
  });
});

describe('quality.format', () => {
  it.each([
    ['default.jpg', 'default', 'jpg'],
    ['color.png', 'color', 'png'],
    ['gray.webp', 'gray', 'webp'],
    ['bitonal.jpg', 'bitonal', 'jpg'],
  ] as const)('%s', (raw, quality, format) => {
    expect(parseQualityFormat(raw)).toEqual({ quality, format });
  });

  it.each([
    ['default', '400 INVALID_QUALITY'],
    ['grey.jpg', '400 INVALID_QUALITY'],
    ['native.jpg', '400 INVALID_QUALITY'],
    ['default.jpeg', '400 UNSUPPORTED_FORMAT'],
    ['default.tif', '400 UNSUPPORTED_FORMAT'],
    ['default.gif', '400 UNSUPPORTED_FORMAT'],
    ['default.', '400 UNSUPPORTED_FORMAT'],
    ['default.JPG', '400 UNSUPPORTED_FORMAT'],
  ])('%s -> %s', (raw, expected) => {
    expect(outcome(() => parseQualityFormat(raw))).toBe(expected);
  });
});

it('canonical form: pixels region, w,h size', () => {
  expect(
    canonical({ x: 1, y: 2, w: 3, h: 4 }, { width: 5, height: 6 }, { mirror: true, degrees: 90 }, 'gray', 'png'),
  ).toBe('1,2,3,4/5,6/!90/gray.png');
});

describe('any input', () => {
  /** Segments built from the characters IIIF parameters use, plus a few that they never do. */
  const segment = fc.stringMatching(/^[\^!]?(pct:)?[0-9.,!^a-z:%-]{0,14}$/);
  const number = fc.oneof(
    fc.integer({ min: 0, max: 5000 }).map(String),
    fc.double({ min: 0, max: 400, noNaN: true }).map((n) => n.toFixed(3)),
  );
  const wellFormed = fc.oneof(
    fc.tuple(number, number, number, number).map((p) => p.join(',')),
    fc.tuple(number, number, number, number).map((p) => `pct:${p.join(',')}`),
    fc.tuple(fc.constantFrom('', '^', '!', '^!'), number, number).map(([p, w, h]) => `${p}${w},${h}`),
    fc.tuple(fc.constantFrom('', '^'), number).map(([p, n]) => `${p}pct:${n}`),
  );

  it('is answered, or refused with a 400 or 501; what is answered fits the image and the limits', () => {
    fc.assert(
      fc.property(
        fc.oneof(segment, wellFormed),
        fc.oneof(segment, wellFormed),
        fc.integer({ min: 1, max: 3000 }),
        fc.integer({ min: 1, max: 3000 }),
        (region, size, width, height) => {
          let rect: { x: number; y: number; w: number; h: number };
          let out: { width: number; height: number };
          try {
            rect = regionRect(parseRegion(region), width, height);
            out = outputSize(parseSize(size), rect.w, rect.h, LIMITS);
          } catch (e) {
            expect(e).toBeInstanceOf(AppError);
            expect([400, 501]).toContain((e as AppError).status);
            return;
          }
          expect(
            rect.x >= 0 &&
              rect.y >= 0 &&
              rect.w >= 1 &&
              rect.h >= 1 &&
              rect.x + rect.w <= width &&
              rect.y + rect.h <= height,
          ).toBe(true);
          expect(Number.isInteger(out.width) && Number.isInteger(out.height) && out.width >= 1 && out.height >= 1).toBe(
            true,
          );
          expect(out.width * out.height).toBeLessThanOrEqual(LIMITS.maxArea);
          if (!size.startsWith('^')) expect(out.width <= rect.w && out.height <= rect.h).toBe(true);
        },
      ),
      { seed: 15, numRuns: 3000 },
    );
  });

  it('rotation and quality.format are parsed or refused with a 400 or 501', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 12 }), (s) => {
        for (const parse of [parseRotation, parseQualityFormat]) {
          try {
            parse(s);
          } catch (e) {
            expect(e).toBeInstanceOf(AppError);
            expect([400, 501]).toContain((e as AppError).status);
          }
        }
      }),
      { seed: 15, numRuns: 2000 },
    );
  });
});
