/**
 * IIIF image requests, resolved and rendered: slide pixels from the best stored level through the
 * region renderer (the /region path), stored tiles passed through when a request is exactly one,
 * and label images resampled nearest-neighbour from the label raster (values never blended).
 */
import type { SlideRow } from '../catalogue/repo.js';
import { AppError } from '../errors.js';
import type { Generation } from '../generation.js';
import { encodeQuality, type RawImage } from '../imaging/sharp.js';
import { labelRaster } from '../labels/slide-raster.js';
import { overlayPalette } from '../masks/palette.js';
import { encodeGreyPng, encodeIndexedPng } from '../masks/png.js';
import { labelResampling, resampleLabels } from '../masks/resample.js';
import type { SlidePool } from '../slides/pool.js';
import type { RegionRenderer } from '../slides/region.js';
import { bestLevelForDownsample } from '../tiles/deepzoom.js';
import { alignedStoredTile, KIND_SUFFIX, type ImageKind, type PyramidLevel } from './info.js';
import { orient } from './orient.js';
import type { Format, Quality, Rect, Rotation } from './params.js';

export interface ResolvedRequest {
  rect: Rect;
  /** Output size before rotation. */
  size: { width: number; height: number };
  rotation: Rotation;
  quality: Quality;
  format: Format;
}

export interface IiifServiceOptions {
  pool: SlidePool;
  regions: RegionRenderer;
  /** Largest number of stored-level pixels one request may read (bounds memory). */
  maxSourcePixels: number;
}

export interface IiifService {
  /** The slide and which of its images an identifier names; 404 for anything else. */
  identify(g: Generation, identifier: string): { slide: SlideRow; kind: ImageKind };
  levels(g: Generation, s: SlideRow): PyramidLevel[];
  render(
    g: Generation,
    s: SlideRow,
    kind: ImageKind,
    r: ResolvedRequest,
  ): Promise<{ body: Buffer; passthrough: boolean }>;
}

/** JPEG/WebP quality of IIIF images: the DeepZoom tiles' default, so both paths look the same. */
export const IIIF_QUALITY = 80;
const IMAGE_EXT = { jpg: 'jpeg', png: 'png', webp: 'webp' } as const;

/** Label images: lossless and raw, so png in default quality only (400 otherwise). */
export function checkKind(kind: ImageKind, r: ResolvedRequest): void {
  if (kind === 'image') return;
  if (r.format !== 'png') throw new AppError(400, 'UNSUPPORTED_FORMAT', 'label images are served losslessly: png only');
  if (r.quality !== 'default') throw new AppError(400, 'UNSUPPORTED_QUALITY', 'label images have one quality: default');
}

export function createIiifService(opts: IiifServiceOptions): IiifService {
  const { pool, regions } = opts;
  const levels = (g: Generation, s: SlideRow): PyramidLevel[] =>
    g.catalogue.levels(s.id).map((l) => ({ width: l.width, height: l.height, downsample: l.downsample }));

  /** The stored bytes of an aligned request, or null (not JPEG, or a sparse tile). */
  const storedTile = (g: Generation, s: SlideRow, at: { level: number; tx: number; ty: number }) =>
    g.guardPixels(s.id, async () => {
      const file = await pool.open(g, s);
      return file.jpeg ? file.jpegTile(at.level, at.tx, at.ty) : null;
    });

  const image = async (
    g: Generation,
    s: SlideRow,
    r: ResolvedRequest,
  ): Promise<{ body: Buffer; passthrough: boolean }> => {
    const lv = levels(g, s);
    // Checked before anything is opened: most region requests are not a stored tile.
    const at = alignedStoredTile(s, lv, { width: s.tile_width, height: s.tile_height }, r);
    const stored = at && (await storedTile(g, s, at));
    if (stored) return { body: stored, passthrough: true };
    // The finer axis decides the level: a stretched output is never read from too coarse a level.
    const l0PerPixel = Math.min(r.rect.w / r.size.width, r.rect.h / r.size.height);
    const level = bestLevelForDownsample(
      lv.map((l) => l.downsample),
      l0PerPixel,
    );
    const ds = lv[level]!.downsample;
    // The same level rectangle /region reads for this rectangle at this level.
    const crop = {
      left: Math.floor(r.rect.x / ds),
      top: Math.floor(r.rect.y / ds),
      width: Math.max(1, Math.round(r.rect.w / ds)),
      height: Math.max(1, Math.round(r.rect.h / ds)),
    };
    if (crop.width * crop.height > opts.maxSourcePixels) {
      const what = `this request reads ${crop.width} x ${crop.height} pixels of stored level ${level}, more than ${opts.maxSourcePixels}`;
      throw new AppError(400, 'REGION_TOO_LARGE', `${what}: ask for a smaller region or size`);
    }
    const plain = r.rotation.degrees === 0 && !r.rotation.mirror && (r.quality === 'default' || r.quality === 'color');
    if (plain) {
      const body = (await regions.render(g, s, level, crop, r.size, {
        kind: 'encoded',
        format: IMAGE_EXT[r.format],
        quality: IIIF_QUALITY,
      })) as Buffer;
      return { body, passthrough: false };
    }
    const raw = (await regions.render(g, s, level, crop, r.size, { kind: 'raw' })) as RawImage;
    const turned = orient(raw, r.rotation);
    const pixels = { ...turned, data: Buffer.from(turned.data.buffer, turned.data.byteOffset, turned.data.length) };
    const body = await encodeQuality(pixels, r.quality, { format: IMAGE_EXT[r.format], quality: IIIF_QUALITY });
    return { body, passthrough: false };
  };

  return {
    identify(g, identifier) {
      const kind =
        (Object.keys(KIND_SUFFIX) as ImageKind[]).find((k) => k !== 'image' && identifier.endsWith(KIND_SUFFIX[k])) ??
        'image';
      const id = identifier.slice(0, identifier.length - KIND_SUFFIX[kind].length);
      try {
        // Label images exist for unreadable slides too (labels do not need the slide's pixels).
        return { slide: kind === 'image' ? g.readableSlide(id) : g.slide(id), kind };
      } catch (e) {
        if (e instanceof AppError && e.code === 'SLIDE_NOT_FOUND')
          throw new AppError(404, 'IMAGE_NOT_FOUND', 'no IIIF image has this identifier');
        throw e;
      }
    },
    levels,
    async render(g, s, kind, r) {
      if (kind === 'image') return image(g, s, r);
      return { body: labelImage(g, s, kind, r), passthrough: false };
    },
  };
}

/** A label image: values resampled nearest-neighbour from the label raster, oriented, png. */
function labelImage(g: Generation, s: SlideRow, kind: ImageKind, r: ResolvedRequest): Buffer {
  checkKind(kind, r);
  const raster = labelRaster(s);
  const { width, height } = r.size;
  let values: Uint8Array = new Uint8Array(width * height);
  if (raster) {
    const sx = r.rect.w / width;
    const sy = r.rect.h / height;
    const sampling = labelResampling(raster, r.rect.x, r.rect.y, sx, width, height, sy);
    values = resampleLabels(
      g.labels.region(raster, sampling.level, sampling.x, sampling.y, sampling.width, sampling.height),
      sampling,
    );
  }
  const turned = orient({ data: values, width, height, channels: 1 }, r.rotation);
  if (kind === 'mask') return encodeGreyPng(turned.data, turned.width, turned.height);
  return encodeIndexedPng(turned.data, turned.width, turned.height, overlayPalette(g.taxonomy, null, 1));
}
