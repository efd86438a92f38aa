/**
 * The one place the service talks to sharp (libvips). Every size that drives an allocation is
 * bounded by the caller or here, and every libvips failure leaves as an AppError whose detail
 * carries no filesystem path.
 */
import sharp, { type Sharp } from 'sharp';
import { AppError } from '../errors.js';
import type { ProbedCodec } from '../slides/codecs.js';

export interface RawImage {
  data: Buffer;
  width: number;
  height: number;
  channels: number;
}

export type ImageFormat = 'jpeg' | 'png' | 'webp';

/** Masks are decoded whole; a gigapixel mask is 1 GB of memory, so refuse larger. */
export const MAX_MASK_PIXELS = 2 ** 30;

// libvips' own operation cache holds decoded images by file name, which defeats our byte-bounded
// caches and pins files that ingest replaces; our caches sit above it.
sharp.cache(false);

let probed: Promise<Set<ProbedCodec>> | null = null;

/** Which optional TIFF codecs this libvips can decode: a tiny round trip per codec, once. */
export function probeCodecs(): Promise<Set<ProbedCodec>> {
  probed ??= (async () => {
    const found = new Set<ProbedCodec>();
    const tries: Array<[ProbedCodec, 'zstd' | 'webp' | 'jp2k']> = [
      ['ZSTD', 'zstd'],
      ['WebP', 'webp'],
      ['JPEG 2000', 'jp2k'],
    ];
    for (const [name, compression] of tries) {
      try {
        const tif = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#808080' } })
          .tiff({ compression })
          .toBuffer();
        await sharp(tif).raw().toBuffer();
        found.add(name);
      } catch {
        // The codec is missing from this build: slides using it are indexed as unsupported.
      }
    }
    return found;
  })();
  return probed;
}

/** Capabilities worth reporting at /healthz and at start. */
export async function imagingCapabilities(): Promise<{
  libvips: string;
  sharp: string;
  openslide: boolean;
  codecs: ProbedCodec[];
}> {
  return {
    libvips: sharp.versions.vips,
    sharp: sharp.versions.sharp ?? 'unknown',
    openslide: Boolean(sharp.format.openslide?.input.file),
    codecs: [...(await probeCodecs())],
  };
}

/** A whole slide level (TIFF page), shrunk to fit `maxSize`, as RGB. */
export async function readLevelRaw(path: string, page: number, maxSize: number): Promise<RawImage> {
  return guard('PIXELS_UNREADABLE', "the slide's pixels cannot be decoded", async () => {
    const { data, info } = await sharp(path, { page, limitInputPixels: false, failOn: 'error' })
      .resize({ width: maxSize, height: maxSize, fit: 'inside', withoutEnlargement: true })
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    return { data, width: info.width, height: info.height, channels: info.channels };
  });
}

/** A stored level decoded and resized to exactly width x height (tissue detection at ingest). */
export async function readLevelResized(path: string, page: number, width: number, height: number): Promise<RawImage> {
  return guard('PIXELS_UNREADABLE', "the slide's pixels cannot be decoded", async () => {
    const { data, info } = await sharp(path, { page, limitInputPixels: false, failOn: 'error' })
      .resize({ width, height, fit: 'fill' })
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    return { data, width: info.width, height: info.height, channels: info.channels };
  });
}

/** Raw interleaved pixels as a palette PNG (figures: the tissue outline in docs/). */
export async function encodeRawPng(data: Uint8Array, width: number, height: number, channels: 3 | 4): Promise<Buffer> {
  // A palette keeps a photo-like figure small (a quarter of the bytes); the outline stays legible.
  return sharp(data, { raw: { width, height, channels } }).png({ palette: true, quality: 90 }).toBuffer();
}

/** A label or colour mask image, decoded whole (first page of a TIFF = its largest level). */
/** What a mask's header says, before any pixel is decoded. */
export interface MaskHeader {
  width: number;
  height: number;
  format: string;
}

/**
 * A whole mask, decoded. `check` sees the header first and may refuse the file (a wrong size, a
 * lossy format) before its pixels cost memory; the decode is then limited to the header's size.
 */
export async function readMaskRaw(
  path: string | Buffer,
  kind: 'label' | 'color',
  check?: (h: MaskHeader) => void,
): Promise<RawImage> {
  const meta = await guard('MASK_UNREADABLE', 'the mask image cannot be read', () =>
    sharp(path, { limitInputPixels: false }).metadata(),
  );
  // A palette PNG's pixels are indices; libvips expands them to colours, which are not labels.
  if (kind === 'label' && meta.isPalette)
    throw new AppError(
      422,
      'MASK_PALETTE',
      'the label mask is a palette image: save it as 8-bit greyscale whose values are the class values',
    );
  const pixels = (meta.width ?? 0) * (meta.height ?? 0);
  if (pixels > MAX_MASK_PIXELS)
    throw new AppError(
      422,
      'MASK_TOO_LARGE',
      `the mask has ${pixels} pixels, more than ${MAX_MASK_PIXELS}: give it at a coarser downsample`,
    );
  // libvips narrows 16-bit samples to 8 bits (v >> 8): class values 1..255 stored as 16-bit would all read as 0.
  if (kind === 'label' && meta.depth !== undefined && meta.depth !== 'uchar') {
    throw new AppError(
      422,
      'MASK_NOT_8BIT',
      `the mask has ${meta.depth} samples: a label mask holds one byte per pixel (8-bit grey)`,
    );
  }
  check?.({ width: meta.width ?? 0, height: meta.height ?? 0, format: meta.format ?? 'unknown' });
  return guard('MASK_UNREADABLE', 'the mask image cannot be decoded', async () => {
    let img = sharp(path, { limitInputPixels: Math.max(1, pixels), failOn: 'error' });
    // Labels are values, not colours: no colour management, no alpha premultiplication.
    img = kind === 'label' ? img.extractChannel(0) : img.removeAlpha();
    const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
    return { data, width: info.width, height: info.height, channels: info.channels };
  });
}

/** A slide level shrunk to fit `maxSize` and encoded; the caller picks a level that needs no upsampling. */
export async function renderThumbnail(
  path: string,
  page: number,
  maxSize: number,
  format: ImageFormat,
  quality: number,
): Promise<Buffer> {
  return guard('PIXELS_UNREADABLE', "the slide's pixels cannot be decoded", () => {
    const s = sharp(path, { page, limitInputPixels: false, failOn: 'error' })
      .resize({ width: maxSize, height: maxSize, fit: 'inside', withoutEnlargement: true, kernel: 'lanczos3' })
      .removeAlpha()
      .toColourspace('srgb');
    if (format === 'jpeg') return s.jpeg({ quality }).toBuffer();
    if (format === 'webp') return s.webp({ quality }).toBuffer();
    return s.png().toBuffer();
  });
}

/** RGB pixels (already decoded, e.g. by the native region decoder) resized to `size` and encoded. */
export async function renderRaw(
  img: RawImage,
  size: { width: number; height: number },
  out: RegionOutput,
): Promise<Buffer | RawImage> {
  return guard('ENCODE_FAILED', 'the image could not be encoded', () => {
    let s = sharp(img.data, { raw: { width: img.width, height: img.height, channels: img.channels as 1 | 2 | 3 | 4 } });
    if (img.width !== size.width || img.height !== size.height)
      s = s.resize({ width: size.width, height: size.height, fit: 'fill', kernel: 'lanczos3' });
    return finish(s, out);
  });
}

/**
 * Raw pixels in a IIIF quality, encoded: `gray` is luminance, `bitonal` black or white at mid
 * grey (one channel either way); default and color keep the colours.
 */
export async function encodeQuality(
  img: RawImage,
  quality: 'default' | 'color' | 'gray' | 'bitonal',
  out: { format: ImageFormat; quality: number },
): Promise<Buffer> {
  return guard('ENCODE_FAILED', 'the image could not be encoded', () => {
    let s = sharp(img.data, { raw: { width: img.width, height: img.height, channels: img.channels as 1 | 2 | 3 | 4 } });
    if (quality === 'gray') s = s.toColourspace('b-w');
    if (quality === 'bitonal') s = s.threshold(128, { grayscale: true }).toColourspace('b-w');
    return finish(s, { kind: 'encoded', ...out }) as Promise<Buffer>;
  });
}

/** Where a region's pixels come from: stored JPEG tiles (laid out `across` per row), or a TIFF page. */
export type RegionSource =
  { kind: 'tiles'; tiles: Buffer[]; across: number } | { kind: 'file'; path: string; page: number };
export interface Crop {
  left: number;
  top: number;
  width: number;
  height: number;
}
export type RegionOutput = { kind: 'encoded'; format: ImageFormat; quality: number } | { kind: 'raw' };

/**
 * A region in ONE libvips pipeline: join the stored tiles (or open the TIFF page), crop, resize to
 * exactly `size` (never keeping aspect: DeepZoom tiles must abut without seams), encode. One
 * pipeline per request keeps the event loop's share (pipeline set-up, buffers to collect) small;
 * decoding tiles one by one into JS buffers cost ~3x more main-thread time and GC.
 */
export async function renderRegion(
  src: RegionSource,
  crop: Crop,
  size: { width: number; height: number },
  out: RegionOutput,
): Promise<Buffer | RawImage> {
  return guard('PIXELS_UNREADABLE', "the slide's pixels cannot be decoded", async () => {
    let s =
      src.kind === 'file'
        ? sharp(src.path, { page: src.page, limitInputPixels: false, failOn: 'error' })
        : src.tiles.length === 1
          ? sharp(src.tiles[0], { failOn: 'error' })
          : sharp(src.tiles, { join: { across: src.across }, failOn: 'error' });
    s = s.extract(crop);
    if (crop.width !== size.width || crop.height !== size.height)
      s = s.resize({ width: size.width, height: size.height, fit: 'fill', kernel: 'lanczos3' });
    return finish(s.removeAlpha().toColourspace('srgb'), out);
  });
}

/** The output stage every region shares, so both decoders' regions encode the same way. */
async function finish(s: Sharp, out: RegionOutput): Promise<Buffer | RawImage> {
  if (out.kind === 'raw') {
    const { data, info } = await s.raw().toBuffer({ resolveWithObject: true });
    return { data, width: info.width, height: info.height, channels: info.channels };
  }
  if (out.format === 'jpeg') return s.jpeg({ quality: out.quality }).toBuffer();
  if (out.format === 'webp') return s.webp({ quality: out.quality }).toBuffer();
  return s.png({ compressionLevel: 3 }).toBuffer();
}

/** A blank (white) JPEG tile: what a sparse tile (never written, offset 0) shows. */
export async function blankJpeg(width: number, height: number): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: '#ffffff' } })
    .jpeg({ quality: 90 })
    .toBuffer();
}

/** Runs a libvips call; a failure becomes a 422 with libvips' reason, paths removed. */
async function guard<T>(code: string, what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof AppError) throw e;
    throw new AppError(422, code, `${what}: ${scrub((e as Error).message)}`);
  }
}

/** libvips messages can name the file; a response must never. */
export function scrub(message: string): string {
  const first = message.split('\n')[0] ?? '';
  return first.replace(/(?:[A-Za-z]:)?[/\\][^\s:'"]+/g, '<file>').slice(0, 300);
}

/** libvips threads per sharp pipeline (src/cluster/sizing.ts says how many for each worker). */
export function setConcurrency(threads: number): void {
  sharp.concurrency(threads);
}
