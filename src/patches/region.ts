/**
 * Pixels and labels of a level-0 rectangle at a slide level or a target mpp: the body of a
 * training patch. Images come from the best stored level (never upsampled from a coarser one)
 * and are resampled to the output size; labels are sampled at pixel centres, never blended.
 */
import type { SlideRow } from '../catalogue/repo.js';
import { AppError } from '../errors.js';
import type { Generation } from '../generation.js';
import type { ImageFormat, RawImage } from '../imaging/sharp.js';
import { encodeGreyPng } from '../masks/png.js';
import { labelResampling, resampleLabels, type LabelScratch } from '../masks/resample.js';
import { tissueMask } from '../tissue/mask.js';
import { bestLevelForDownsample } from '../tiles/deepzoom.js';
import { labelRaster } from '../labels/slide-raster.js';
import type { RegionRenderer } from '../slides/region.js';

export interface RegionRequest {
  x: number;
  y: number;
  width: number;
  height: number;
  /** Exactly one of level and mpp. */
  level: number | null;
  mpp: number | null;
}

export type RegionFormat = ImageFormat | 'raw' | 'npy';

/**
 * Level-0 pixels per output pixel, and the stored level to read from with its downsample. The
 * rectangle must overlap the slide (what lies off it, on any side, is padded with white glass and
 * label 0), else a 422: a patch centred near an edge is served, a rectangle wholly off it is a mistake.
 */
export function regionScale(
  g: Generation,
  s: SlideRow,
  r: RegionRequest,
): { l0PerPixel: number; level: number; downsample: number } {
  const scale = levelScale(g, s, r);
  const right = r.x + r.width * scale.l0PerPixel;
  const bottom = r.y + r.height * scale.l0PerPixel;
  if (right <= 0 || bottom <= 0 || r.x >= s.width || r.y >= s.height) {
    throw new AppError(
      422,
      'REGION_OFF_SLIDE',
      `the rectangle (level-0 x ${r.x} to ${right}, y ${r.y} to ${bottom}) does not overlap slide "${s.id}" (${s.width} x ${s.height})`,
    );
  }
  return scale;
}

function levelScale(
  g: Generation,
  s: SlideRow,
  r: RegionRequest,
): { l0PerPixel: number; level: number; downsample: number } {
  const levels = g.catalogue.levels(s.id);
  if (r.level !== null) {
    const l = levels[r.level];
    if (!l)
      throw new AppError(
        422,
        'LEVEL_OUT_OF_RANGE',
        `slide "${s.id}" has levels 0..${levels.length - 1}, not ${r.level}`,
      );
    return { l0PerPixel: l.downsample, level: r.level, downsample: l.downsample };
  }
  if (s.mpp_x === null)
    throw new AppError(422, 'MPP_UNKNOWN', `slide "${s.id}" does not say its resolution: ask by level`);
  const l0PerPixel = r.mpp! / s.mpp_x;
  if (l0PerPixel < 0.999)
    throw new AppError(422, 'MPP_TOO_FINE', `slide "${s.id}" is scanned at ${s.mpp_x} um/px: ${r.mpp} would upsample`);
  const level = bestLevelForDownsample(
    levels.map((l) => l.downsample),
    l0PerPixel,
  );
  return { l0PerPixel, level, downsample: levels[level]!.downsample };
}

/**
 * The patch's pixels, encoded as asked (jpeg/png/webp, raw RGB or npy), in one pipeline from the
 * best stored level. `maxSourcePixels` bounds what is read: coarser than the coarsest level, a
 * small output can cover a lot of the slide.
 */
export async function imageRegion(
  g: Generation,
  regions: RegionRenderer,
  s: SlideRow,
  r: RegionRequest,
  format: RegionFormat,
  quality: number,
  maxSourcePixels: number,
): Promise<Buffer> {
  const { l0PerPixel, level, downsample: ds } = regionScale(g, s, r);
  const scale = l0PerPixel / ds; // level pixels per output pixel (1 when reading a level as is)
  const rect = {
    left: Math.floor(r.x / ds),
    top: Math.floor(r.y / ds),
    width: Math.max(1, Math.round(r.width * scale)),
    height: Math.max(1, Math.round(r.height * scale)),
  };
  if (rect.width * rect.height > maxSourcePixels) {
    throw new AppError(
      413,
      'REGION_TOO_LARGE',
      `at this resolution the region reads ${rect.width} x ${rect.height} pixels of the slide's level ${level}, more than ${maxSourcePixels}: ask for fewer pixels or a finer mpp`,
    );
  }
  const size = { width: r.width, height: r.height };
  if (format === 'raw' || format === 'npy') {
    const img = (await regions.render(g, s, level, rect, size, { kind: 'raw' })) as RawImage;
    return format === 'raw' ? img.data : npy(img.data, [r.height, r.width, 3]);
  }
  return (await regions.render(g, s, level, rect, size, { kind: 'encoded', format, quality })) as Buffer;
}

/**
 * The label values of the region. With `scratch` (a batch's masks, encoded at once) the answer lives
 * in the scratch's buffers: valid until the scratch's next use, so not for raw answers kept as is.
 */
export function maskRegion(g: Generation, s: SlideRow, r: RegionRequest, scratch?: LabelScratch): Uint8Array {
  const { l0PerPixel } = regionScale(g, s, r);
  const raster = labelRaster(s);
  if (!raster) return scratch ? scratch.take(1, r.width * r.height).fill(0) : new Uint8Array(r.width * r.height);
  const sampling = labelResampling(raster, r.x, r.y, l0PerPixel, r.width, r.height);
  const { level, x, y, width, height } = sampling;
  return resampleLabels(
    g.labels.region(raster, level, x, y, width, height, scratch?.take(0, width * height)),
    sampling,
    scratch?.take(1, r.width * r.height),
  );
}

/** The detected tissue of the region (1 = tissue) on the same grid as maskRegion. */
export function tissueRegion(g: Generation, s: SlideRow, r: RegionRequest): Uint8Array {
  const { l0PerPixel } = regionScale(g, s, r);
  return tissueMask(g, s, 'layer', r.x, r.y, l0PerPixel, r.width, r.height);
}

export const CONTENT_TYPES: Record<RegionFormat, string> = {
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  raw: 'application/octet-stream',
  npy: 'application/x-npy',
};

export function encodeMaskRegion(values: Uint8Array, r: RegionRequest, format: RegionFormat): Buffer {
  if (format === 'png') return encodeGreyPng(values, r.width, r.height);
  if (format === 'raw') return Buffer.from(values.buffer, values.byteOffset, values.length);
  if (format === 'npy') return npy(values, [r.height, r.width]);
  throw new AppError(400, 'UNSUPPORTED_FORMAT', 'masks are served losslessly: png, raw or npy');
}

/** NumPy .npy v1.0: magic, header dict padded so the data starts 64-byte aligned, then C-order uint8. */
export function npy(data: Uint8Array, shape: number[]): Buffer {
  const dict = `{'descr': '|u1', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const unpadded = 10 + dict.length + 1;
  const header = dict + ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  return Buffer.concat([head, Buffer.from(header, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.length)]);
}
