/**
 * IIIF Image API 3.0 request parameters (pure: no I/O): parsing of region, size, rotation and
 * quality.format, and the arithmetic that turns them into a rectangle of the full image (plane
 * `l0`: level-0 pixels) and an output size. Syntax errors are 400, valid requests for a feature
 * this service does not implement (arbitrary rotation) are 501, as the spec asks.
 *
 * Rounding (the spec leaves it to the server; these rules are the ones tested):
 * - `pct:x,y,w,h`: edges at round(pct * size / 100), so regions that abut in percent abut in pixels;
 * - `w,` and `,h`: the other side is round(side * aspect), at least 1;
 * - `pct:n`: round(region side * n / 100) on each axis;
 * - `!w,h`: scale by the smaller of w / region width and h / region height, the constrained side is
 *   exactly w or h, the other rounded; a scale over 1 needs `^`, as every size form does (the
 *   official validator's size_noup fails `!2000,3000` on a 1000 x 1000 image: it is a 400 here);
 * - `max`: the region itself, shrunk (floor, so the area stays within maxArea) only when it is
 *   larger than maxArea; `^max` grows it to maxArea.
 */
import { AppError } from '../errors.js';

export type Region =
  | { kind: 'full' }
  | { kind: 'square' }
  | { kind: 'px'; x: number; y: number; w: number; h: number }
  | { kind: 'pct'; x: number; y: number; w: number; h: number };

export type Size = { upscale: boolean } & (
  | { kind: 'max' }
  | { kind: 'w'; w: number }
  | { kind: 'h'; h: number }
  | { kind: 'pct'; n: number }
  | { kind: 'wh'; w: number; h: number }
  | { kind: 'confined'; w: number; h: number }
);

export interface Rotation {
  mirror: boolean;
  /** 0, 90, 180 or 270, clockwise. */
  degrees: 0 | 90 | 180 | 270;
}

export type Quality = 'default' | 'color' | 'gray' | 'bitonal';
export type Format = 'jpg' | 'png' | 'webp';
export const QUALITIES: readonly Quality[] = ['default', 'color', 'gray', 'bitonal'];
export const FORMATS: readonly Format[] = ['jpg', 'png', 'webp'];
/** Formats the Image API names that this service does not produce: 400 with a pointer to the ones it does. */
const KNOWN_FORMATS = ['tif', 'gif', 'jp2', 'pdf'];

export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface Limits {
  maxArea: number;
}

/** Whole numbers as IIIF writes them: digits only, bounded so arithmetic stays exact. */
const INT = /^\d{1,9}$/;
/** Percentages and degrees: decimal numbers, no sign, no exponent. */
const DECIMAL = /^(\d{1,9}(\.\d{1,12})?|\.\d{1,12})$/;

export function parseRegion(raw: string): Region {
  if (raw === 'full' || raw === 'square') return { kind: raw };
  const pct = raw.startsWith('pct:');
  const parts = (pct ? raw.slice(4) : raw).split(',');
  if (parts.length !== 4 || !parts.every((p) => (pct ? DECIMAL : INT).test(p))) {
    throw bad('INVALID_REGION', `region must be full, square, x,y,w,h or pct:x,y,w,h, not "${clip(raw)}"`);
  }
  const [x, y, w, h] = parts.map(Number) as [number, number, number, number];
  if (w <= 0 || h <= 0) throw bad('INVALID_REGION', "a region's width and height must be above zero");
  return { kind: pct ? 'pct' : 'px', x, y, w, h };
}

export function parseSize(raw: string): Size {
  const upscale = raw.startsWith('^');
  const s = upscale ? raw.slice(1) : raw;
  if (s === 'max') return { kind: 'max', upscale };
  if (s.startsWith('pct:')) {
    const n = s.slice(4);
    if (!DECIMAL.test(n)) throw badSize(raw);
    return { kind: 'pct', n: Number(n), upscale };
  }
  const confined = s.startsWith('!');
  const m = /^(\d{0,9}),(\d{0,9})$/.exec(confined ? s.slice(1) : s);
  if (!m) throw badSize(raw);
  const [w, h] = [m[1]!, m[2]!];
  if (confined || (w !== '' && h !== '')) {
    if (w === '' || h === '') throw badSize(raw);
    return { kind: confined ? 'confined' : 'wh', w: Number(w), h: Number(h), upscale };
  }
  if (w !== '') return { kind: 'w', w: Number(w), upscale };
  if (h !== '') return { kind: 'h', h: Number(h), upscale };
  throw badSize(raw);
}

export function parseRotation(raw: string): Rotation {
  const mirror = raw.startsWith('!');
  const n = mirror ? raw.slice(1) : raw;
  if (!DECIMAL.test(n) || Number(n) > 360) {
    throw bad(
      'INVALID_ROTATION',
      `rotation must be a number of degrees from 0 to 360, optionally after "!", not "${clip(raw)}"`,
    );
  }
  const degrees = Number(n) % 360;
  if (degrees % 90 !== 0) {
    throw new AppError(
      501,
      'ROTATION_NOT_SUPPORTED',
      'only rotations by multiples of 90 degrees are supported (rotationBy90s)',
    );
  }
  return { mirror, degrees: degrees as Rotation['degrees'] };
}

export function parseQualityFormat(raw: string): { quality: Quality; format: Format } {
  const dot = raw.lastIndexOf('.');
  const quality = raw.slice(0, dot);
  const format = raw.slice(dot + 1);
  if (dot < 0 || !(QUALITIES as readonly string[]).includes(quality)) {
    throw bad('INVALID_QUALITY', `quality must be one of ${QUALITIES.join(', ')}, followed by .format`);
  }
  if (!(FORMATS as readonly string[]).includes(format)) {
    const known = KNOWN_FORMATS.includes(format);
    throw bad(
      'UNSUPPORTED_FORMAT',
      `${known ? `format ${format} is not served` : 'unknown format'}: use one of ${FORMATS.join(', ')}`,
    );
  }
  return { quality: quality as Quality, format: format as Format };
}

/** The region in full-image pixels, clipped to the image; 400 when nothing of it is on the image. */
export function regionRect(r: Region, width: number, height: number): Rect {
  if (r.kind === 'full') return { x: 0, y: 0, w: width, h: height };
  if (r.kind === 'square') {
    const side = Math.min(width, height);
    return { x: Math.floor((width - side) / 2), y: Math.floor((height - side) / 2), w: side, h: side };
  }
  let x0 = r.x;
  let y0 = r.y;
  let x1 = r.x + r.w;
  let y1 = r.y + r.h;
  if (r.kind === 'pct') {
    [x0, x1] = [Math.round((r.x * width) / 100), Math.round(((r.x + r.w) * width) / 100)];
    [y0, y1] = [Math.round((r.y * height) / 100), Math.round(((r.y + r.h) * height) / 100)];
  }
  x1 = Math.min(x1, width);
  y1 = Math.min(y1, height);
  if (x0 >= width || y0 >= height || x1 <= x0 || y1 <= y0) {
    throw bad('REGION_OUTSIDE', `the region has no pixels on the ${width} x ${height} image`);
  }
  return { x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
}

/** The output size for a region of `rw` x `rh` pixels; 400 for zero sizes, upscaling without `^`, or more than maxArea. */
export function outputSize(s: Size, rw: number, rh: number, limits: Limits): { width: number; height: number } {
  const out = unchecked(s, rw, rh, limits);
  if (out.width < 1 || out.height < 1) throw bad('INVALID_SIZE', 'the requested size has no pixels');
  if (!s.upscale && (out.width > rw || out.height > rh)) {
    throw bad(
      'UPSCALE_NOT_REQUESTED',
      `${out.width} x ${out.height} is larger than the ${rw} x ${rh} region: prefix the size with ^ to upscale`,
    );
  }
  if (out.width * out.height > limits.maxArea) {
    throw bad('SIZE_TOO_LARGE', `${out.width} x ${out.height} is more than maxArea (${limits.maxArea} pixels)`);
  }
  return out;
}

function unchecked(s: Size, rw: number, rh: number, limits: Limits): { width: number; height: number } {
  switch (s.kind) {
    case 'max': {
      const fit = Math.sqrt(limits.maxArea / (rw * rh));
      if (fit >= 1 && !s.upscale) return { width: rw, height: rh };
      return { width: Math.max(1, Math.floor(rw * fit)), height: Math.max(1, Math.floor(rh * fit)) };
    }
    case 'w':
      return { width: s.w, height: Math.max(1, Math.round((s.w * rh) / rw)) };
    case 'h':
      return { width: Math.max(1, Math.round((s.h * rw) / rh)), height: s.h };
    case 'pct':
      return { width: Math.round((rw * s.n) / 100), height: Math.round((rh * s.n) / 100) };
    case 'wh':
      return { width: s.w, height: s.h };
    case 'confined': {
      // As large as the box allows; if that is larger than the region, outputSize asks for ^.
      if (s.w * rh <= s.h * rw) return { width: s.w, height: Math.max(1, Math.round((s.w * rh) / rw)) };
      return { width: Math.max(1, Math.round((s.h * rw) / rh)), height: s.h };
    }
  }
}

/** The output's size after rotation (90 and 270 swap the sides). */
export function rotatedSize(size: { width: number; height: number }, r: Rotation): { width: number; height: number } {
  return r.degrees === 90 || r.degrees === 270 ? { width: size.height, height: size.width } : size;
}

/** The canonical parameters of a resolved request (for ETags and the Link header): region x,y,w,h and size w,h. */
export function canonical(
  rect: Rect,
  size: { width: number; height: number },
  r: Rotation,
  quality: Quality,
  format: Format,
): string {
  return `${rect.x},${rect.y},${rect.w},${rect.h}/${size.width},${size.height}/${r.mirror ? '!' : ''}${r.degrees}/${quality}.${format}`;
}

function bad(code: string, detail: string): AppError {
  return new AppError(400, code, detail);
}

function badSize(raw: string): AppError {
  return bad(
    'INVALID_SIZE',
    `size must be max, w,, ,h, pct:n, w,h or !w,h (each optionally after ^), not "${clip(raw)}"`,
  );
}

/** Request text echoed in a message, bounded. */
function clip(s: string): string {
  return s.length > 40 ? `${s.slice(0, 40)}...` : s;
}
