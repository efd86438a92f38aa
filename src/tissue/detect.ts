/**
 * Tissue detection on a low-resolution RGB image of a slide (pure: no I/O).
 *
 * 1. Saturation (HSV, 0..255) separates stain from glass: glass is grey-white, H&E is pink to
 *    purple. The threshold is Otsu's on the image's own saturation histogram, clamped to
 *    [MIN_THRESHOLD, MAX_THRESHOLD] so a slide of glass alone does not split its noise, and a slide
 *    of dark purple nodes does not push pale pink stroma below the threshold.
 * 2. Pen ink is called out as not tissue: green to blue hues (H&E never has them), and near-black
 *    unsaturated pixels (black marker, dirt).
 * 3. Cleanup, with sizes in micrometres converted to pixels of the image: a closing closes small
 *    gaps, holes enclosed by tissue are filled (lumens, fat inside a node: tissue), and specks
 *    smaller than a minimum area are dropped. Ink stays out after the hole filling.
 */

export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
  channels: number;
}

export interface TissueOptions {
  /** Micrometres per pixel of the image (sizes of the cleanup); null: assume 8. */
  umPerPixel: number | null;
}

export interface TissueResult {
  /** 1 = tissue, 0 = glass or ink; row-major, width x height. */
  mask: Uint8Array;
  /** Saturation threshold used (tissue: saturation above it). */
  threshold: number;
  /** Pixels called out as ink. */
  inkPx: number;
}

export const MIN_THRESHOLD = 15;
export const MAX_THRESHOLD = 40;
/** Gaps narrower than about twice this are closed. */
const CLOSE_UM = 16;
/** Tissue pieces smaller than this are specks (dust, debris): 0.01 mm^2. */
const MIN_OBJECT_UM2 = 10_000;
/** Below this brightness (max channel) an unsaturated pixel is black ink or dirt, not stain. */
const DARK_MAX = 70;
const DARK_SATURATION = 90;

/** HSV saturation (0..255) of one pixel. */
export function saturation(r: number, g: number, b: number): number {
  const max = Math.max(r, g, b);
  if (max === 0) return 0;
  return Math.round(((max - Math.min(r, g, b)) * 255) / max);
}

/** HSV hue in degrees [0, 360), or -1 for a grey pixel. */
export function hue(r: number, g: number, b: number): number {
  const max = Math.max(r, g, b);
  const c = max - Math.min(r, g, b);
  if (c === 0) return -1;
  let h: number;
  if (max === r) h = ((g - b) / c) % 6;
  else if (max === g) h = (b - r) / c + 2;
  else h = (r - g) / c + 4;
  h *= 60;
  return h < 0 ? h + 360 : h;
}

/**
 * Ink: a saturated green-to-blue hue (75..235 degrees: hematoxylin is purple-blue, 240 and up),
 * or a dark unsaturated pixel.
 */
export function isInk(r: number, g: number, b: number): boolean {
  const s = saturation(r, g, b);
  const h = hue(r, g, b);
  if (s >= 60 && h >= 75 && h <= 235) return true;
  return Math.max(r, g, b) < DARK_MAX && s < DARK_SATURATION;
}

/** Otsu's threshold of a 256-bin histogram: the t maximising between-class variance of (<= t, > t). */
export function otsuThreshold(hist: ArrayLike<number>): number {
  let total = 0;
  let sum = 0;
  for (let i = 0; i < 256; i++) {
    total += hist[i]!;
    sum += i * hist[i]!;
  }
  let w0 = 0;
  let sum0 = 0;
  let best = 0;
  let bestVar = -1;
  for (let t = 0; t < 255; t++) {
    w0 += hist[t]!;
    sum0 += t * hist[t]!;
    const w1 = total - w0;
    if (w0 === 0 || w1 === 0) continue;
    const m0 = sum0 / w0;
    const m1 = (sum - sum0) / w1;
    const v = w0 * w1 * (m0 - m1) ** 2;
    if (v > bestVar) {
      bestVar = v;
      best = t;
    }
  }
  return best;
}

/**
 * Binary dilation along one line of n pixels (start, step): a pixel becomes 1 when a 1 lies within
 * r of it. Two scans (distance to the last 1 before, to the next 1 after): O(n) whatever r is.
 */
function dilateLine(src: Uint8Array, out: Uint8Array, start: number, step: number, n: number, r: number): void {
  let last = -Infinity;
  for (let i = 0, p = start; i < n; i++, p += step) {
    if (src[p]) last = i;
    out[p] = i - last <= r ? 1 : 0;
  }
  let next = Infinity;
  for (let i = n - 1, p = start + (n - 1) * step; i >= 0; i--, p -= step) {
    if (src[p]) next = i;
    if (next - i <= r) out[p] = 1;
  }
}

/**
 * Square structuring element of radius r: dilation (outside the image is glass), or erosion (the
 * dual: outside counts as tissue, so erosion alone never eats the image border). Separable.
 */
export function morph(mask: Uint8Array, width: number, height: number, r: number, dilate: boolean): Uint8Array {
  if (r <= 0) return mask.slice();
  const src = dilate ? mask : mask.map((v) => (v ? 0 : 1));
  const rows = new Uint8Array(src.length);
  for (let j = 0; j < height; j++) dilateLine(src, rows, j * width, 1, width, r);
  // Vertically, OR whole rows (contiguous memory): a column walk misses the cache on every pixel.
  const out = new Uint8Array(src.length);
  for (let j = 0; j < height; j++) {
    const dst = out.subarray(j * width, (j + 1) * width);
    for (let k = Math.max(0, j - r); k <= Math.min(height - 1, j + r); k++) {
      const row = rows.subarray(k * width, (k + 1) * width);
      for (let i = 0; i < width; i++) dst[i] = dst[i]! | row[i]!;
    }
  }
  if (!dilate) for (let p = 0; p < out.length; p++) out[p] = out[p] ? 0 : 1;
  return out;
}

/** Root of a union-find forest (with path halving). */
function find(parent: Int32Array, i: number): number {
  while (parent[i] !== i) {
    parent[i] = parent[parent[i]!]!;
    i = parent[i]!;
  }
  return i;
}

/**
 * Connected components (4-connected) of pixels equal to `value`, by one union-find pass in
 * raster order: for each pixel its component's root (-1 for other pixels), and per root the
 * component's size and whether it touches the image border.
 */
export function components(
  mask: Uint8Array,
  width: number,
  height: number,
  value: number,
): { root: Int32Array; size: Int32Array; border: Uint8Array } {
  const n = mask.length;
  const parent = new Int32Array(n).fill(-1);
  for (let j = 0, p = 0; j < height; j++) {
    for (let i = 0; i < width; i++, p++) {
      if (mask[p] !== value) continue;
      // Joined to the run on the left (its root), then merged with the component above.
      parent[p] = i > 0 && parent[p - 1]! >= 0 ? parent[p - 1]! : p;
      if (j > 0 && parent[p - width]! >= 0) {
        const a = find(parent, p - width);
        const b = find(parent, p);
        if (a !== b) parent[Math.max(a, b)] = Math.min(a, b);
        parent[p] = Math.min(a, b);
      }
    }
  }
  const size = new Int32Array(n);
  const border = new Uint8Array(n);
  for (let j = 0, p = 0; j < height; j++) {
    for (let i = 0; i < width; i++, p++) {
      if (parent[p]! < 0) continue;
      const r = find(parent, p);
      parent[p] = r;
      size[r]!++;
      if (i === 0 || i === width - 1 || j === 0 || j === height - 1) border[r] = 1;
    }
  }
  return { root: parent, size, border };
}

/**
 * Closing (dilate, then erode) with a square of radius r, on the image padded by r pixels of glass:
 * tissue near the border neither grows to it nor is eaten by it.
 */
export function close(mask: Uint8Array, width: number, height: number, r: number): Uint8Array {
  if (r <= 0) return mask.slice();
  const pw = width + 2 * r;
  const ph = height + 2 * r;
  const padded = new Uint8Array(pw * ph);
  for (let j = 0; j < height; j++) padded.set(mask.subarray(j * width, (j + 1) * width), (j + r) * pw + r);
  const closed = morph(morph(padded, pw, ph, r, true), pw, ph, r, false);
  const out = new Uint8Array(width * height);
  for (let j = 0; j < height; j++) out.set(closed.subarray((j + r) * pw + r, (j + r) * pw + r + width), j * width);
  return out;
}

/** Fills every glass component that does not touch the border (a hole in tissue). */
export function fillHoles(mask: Uint8Array, width: number, height: number): Uint8Array {
  const { root, border } = components(mask, width, height, 0);
  const out = mask.slice();
  for (let p = 0; p < out.length; p++) if (root[p]! >= 0 && !border[root[p]!]) out[p] = 1;
  return out;
}

/** Drops tissue components of fewer than `minPx` pixels. */
export function dropSpecks(mask: Uint8Array, width: number, height: number, minPx: number): Uint8Array {
  const { root, size } = components(mask, width, height, 1);
  const out = mask.slice();
  for (let p = 0; p < out.length; p++) if (root[p]! >= 0 && size[root[p]!]! < minPx) out[p] = 0;
  return out;
}

export function detectTissue(img: RgbImage, opts: TissueOptions): TissueResult {
  const { width, height, channels, data } = img;
  const n = width * height;
  const sat = new Uint8Array(n);
  const ink = new Uint8Array(n);
  const hist = new Float64Array(256);
  let inkPx = 0;
  for (let p = 0, o = 0; p < n; p++, o += channels) {
    const r = data[o]!;
    const g = data[o + 1]!;
    const b = data[o + 2]!;
    sat[p] = saturation(r, g, b);
    if (isInk(r, g, b)) {
      ink[p] = 1;
      inkPx++;
    } else hist[sat[p]!]!++;
  }
  const threshold = Math.min(MAX_THRESHOLD, Math.max(MIN_THRESHOLD, otsuThreshold(hist)));
  let mask: Uint8Array = new Uint8Array(n);
  for (let p = 0; p < n; p++) mask[p] = !ink[p] && sat[p]! > threshold ? 1 : 0;
  const um = opts.umPerPixel ?? 8;
  const r = Math.round(CLOSE_UM / um / 2);
  mask = close(mask, width, height, r);
  mask = fillHoles(mask, width, height);
  for (let p = 0; p < n; p++) if (ink[p]) mask[p] = 0;
  mask = dropSpecks(mask, width, height, Math.max(1, Math.round(MIN_OBJECT_UM2 / (um * um))));
  return { mask, threshold, inkPx };
}
