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

/** Square structuring element of radius r: max (dilate) or min (erode) over (2r + 1)^2, separably. */
export function morph(mask: Uint8Array, width: number, height: number, r: number, dilate: boolean): Uint8Array {
  if (r <= 0) return mask.slice();
  const pass = (src: Uint8Array, horizontal: boolean): Uint8Array => {
    const out = new Uint8Array(src.length);
    const [n, m] = horizontal ? [height, width] : [width, height];
    for (let a = 0; a < n; a++) {
      for (let b = 0; b < m; b++) {
        // Outside the image counts as glass for dilation, as tissue for erosion (no edge erosion).
        let v = dilate ? 0 : 1;
        for (let k = Math.max(0, b - r); k <= Math.min(m - 1, b + r); k++) {
          const p = horizontal ? src[a * width + k]! : src[k * width + a]!;
          if (dilate ? p === 1 : p === 0) {
            v = dilate ? 1 : 0;
            break;
          }
        }
        out[horizontal ? a * width + b : b * width + a] = v;
      }
    }
    return out;
  };
  return pass(pass(mask, true), false);
}

/**
 * Connected components (4-connected) of pixels equal to `value`; calls `visit` with each
 * component's pixel indices (a shared buffer: valid during the call) and whether it touches the image border.
 */
export function components(
  mask: Uint8Array,
  width: number,
  height: number,
  value: number,
  visit: (pixels: Int32Array, count: number, border: boolean) => void,
): void {
  const seen = new Uint8Array(mask.length);
  const stack = new Int32Array(mask.length);
  // One buffer for every component: visit must not keep it.
  const pixels = new Int32Array(mask.length);
  for (let start = 0; start < mask.length; start++) {
    if (seen[start] || mask[start] !== value) continue;
    let top = 0;
    let count = 0;
    let border = false;
    stack[top++] = start;
    seen[start] = 1;
    while (top > 0) {
      const p = stack[--top]!;
      pixels[count++] = p;
      const x = p % width;
      const y = (p - x) / width;
      if (x === 0 || y === 0 || x === width - 1 || y === height - 1) border = true;
      const next = [
        x > 0 ? p - 1 : -1,
        x < width - 1 ? p + 1 : -1,
        y > 0 ? p - width : -1,
        y < height - 1 ? p + width : -1,
      ];
      for (const q of next) {
        if (q >= 0 && !seen[q] && mask[q] === value) {
          seen[q] = 1;
          stack[top++] = q;
        }
      }
    }
    visit(pixels, count, border);
  }
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
  const out = mask.slice();
  components(mask, width, height, 0, (px, n, border) => {
    if (!border) for (let i = 0; i < n; i++) out[px[i]!] = 1;
  });
  return out;
}

/** Drops tissue components of fewer than `minPx` pixels. */
export function dropSpecks(mask: Uint8Array, width: number, height: number, minPx: number): Uint8Array {
  const out = mask.slice();
  components(mask, width, height, 1, (px, n) => {
    if (n < minPx) for (let i = 0; i < n; i++) out[px[i]!] = 0;
  });
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
