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
 *
 * Speed (issue #13: at most 2 s per Camelyon16 slide, whose ~8 um/px level is 21 Mpx): every pass
 * is a typed-array loop with no call or object per pixel; saturation comes from a table, the hue
 * test for ink is done in integers; the morphology is separable and O(1) per pixel whatever the
 * radius; connected components are labelled on runs (a row's stretches of equal pixels) rather than
 * pixels. `saturation`, `hue` and `isInk` stay as the per-pixel definitions the fast pass is tested
 * against (over every RGB triple).
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

/** Saturation by (max channel << 8 | chroma): the same rounding as `saturation`, one load a pixel. */
const SATURATION = saturationTable();

function saturationTable(): Uint8Array {
  const t = new Uint8Array(65536);
  for (let max = 1; max < 256; max++) {
    for (let c = 0; c <= max; c++) t[(max << 8) | c] = saturation(max, max - c, max - c);
  }
  return t;
}

/**
 * `isInk`'s hue range [75, 235] degrees in integers, for a pixel of chroma c > 0. The red-max sector
 * spans 300..60 degrees (never); green-max 60..180, from 75 on where (b - r) / c >= -3/4; blue-max
 * 180..300, up to 235 where (r - g) / c <= -1/12. Ties pick red, then green, as `hue` does.
 */
function inkHue(r: number, g: number, b: number, max: number, c: number): boolean {
  if (max === r) return false;
  if (max === g) return 4 * (b - r) >= -3 * c;
  return 12 * (r - g) <= -c;
}

export interface StainChannels {
  /** Saturation outside ink, 0 on ink (which no threshold reaches: it is at least MIN_THRESHOLD). */
  sat: Uint8Array;
  /** 1 where `isInk`. */
  ink: Uint8Array;
  /** Histogram of the saturation of pixels that are not ink. */
  hist: Float64Array;
  inkPx: number;
}

/** One pass over the pixels: saturation, ink and the histogram for Otsu. */
export function stainChannels(img: RgbImage): StainChannels {
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
    let max = r;
    let min = r;
    if (g > max) max = g;
    else if (g < min) min = g;
    if (b > max) max = b;
    else if (b < min) min = b;
    const c = max - min;
    const s = SATURATION[(max << 8) | c]!;
    if ((s >= 60 && inkHue(r, g, b, max, c)) || (max < DARK_MAX && s < DARK_SATURATION)) {
      ink[p] = 1;
      inkPx++;
    } else {
      sat[p] = s;
      hist[s]!++;
    }
  }
  return { sat, ink, hist, inkPx };
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
 * One line of n pixels from `start` (step 1): a pixel becomes v when a pixel equal to v lies within
 * r of it, else 1 - v. Two scans (distance to the last hit before, to the next after): O(n).
 */
function morphLine(src: Uint8Array, out: Uint8Array, start: number, n: number, r: number, v: number): void {
  const miss = 1 - v;
  let last = -r - 1;
  for (let i = 0, p = start; i < n; i++, p++) {
    if ((src[p] !== 0 ? 1 : 0) === v) last = i;
    out[p] = i - last <= r ? v : miss;
  }
  let next = n + r + 1;
  for (let i = n - 1, p = start + n - 1; i >= 0; i--, p--) {
    if ((src[p] !== 0 ? 1 : 0) === v) next = i;
    if (next - i <= r) out[p] = v;
  }
}

/**
 * The same along columns, walking whole rows (a column walk misses the cache on every pixel): the
 * last and next row holding v, kept per column. `src` holds only 0 and 1.
 */
function morphColumns(src: Uint8Array, out: Uint8Array, width: number, height: number, r: number, v: number): void {
  const miss = 1 - v;
  const last = new Int32Array(width).fill(-r - 1);
  for (let j = 0, p = 0; j < height; j++) {
    for (let i = 0; i < width; i++, p++) {
      if (src[p] === v) last[i] = j;
      out[p] = j - last[i]! <= r ? v : miss;
    }
  }
  const next = new Int32Array(width).fill(height + r + 1);
  for (let j = height - 1; j >= 0; j--) {
    for (let i = 0, p = j * width; i < width; i++, p++) {
      if (src[p] === v) next[i] = j;
      if (next[i]! - j <= r) out[p] = v;
    }
  }
}

/**
 * Square structuring element of radius r: dilation (outside the image is glass), or erosion (the
 * dual: outside counts as tissue, so erosion alone never eats the image border). Separable.
 */
export function morph(mask: Uint8Array, width: number, height: number, r: number, dilate: boolean): Uint8Array {
  if (r <= 0) return mask.slice();
  const v = dilate ? 1 : 0;
  const rows = new Uint8Array(mask.length);
  for (let j = 0; j < height; j++) morphLine(mask, rows, j * width, width, r, v);
  const out = new Uint8Array(mask.length);
  morphColumns(rows, out, width, height, r, v);
  return out;
}

/** The runs of one value in a mask: row j's are [rowStart[j], rowStart[j + 1]), each [start, end). */
export interface Runs {
  rowStart: Int32Array;
  start: Int32Array;
  end: Int32Array;
  count: number;
}

/** Finds the runs of pixels equal to `value`, row by row. */
export function findRuns(mask: Uint8Array, width: number, height: number, value: number): Runs {
  let start: Int32Array = new Int32Array(Math.max(16, 2 * height));
  let end: Int32Array = new Int32Array(start.length);
  const rowStart = new Int32Array(height + 1);
  let count = 0;
  for (let j = 0, p = 0; j < height; j++) {
    rowStart[j] = count;
    let i = 0;
    while (i < width) {
      while (i < width && mask[p + i] !== value) i++;
      if (i === width) break;
      const s = i;
      while (i < width && mask[p + i] === value) i++;
      if (count === start.length) {
        start = grow(start);
        end = grow(end);
      }
      start[count] = s;
      end[count++] = i;
    }
    p += width;
  }
  rowStart[height] = count;
  return { rowStart, start, end, count };
}

function grow(a: Int32Array): Int32Array {
  const b = new Int32Array(a.length * 2);
  b.set(a);
  return b;
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
 * Connected components (4-connected) of runs: two runs of adjacent rows touch when they share a
 * column. For each run its component (the component's first run in raster order), and per
 * component its pixel count and whether it touches the image border.
 */
export function runComponents(
  runs: Runs,
  width: number,
  height: number,
): { root: Int32Array; size: Int32Array; border: Uint8Array } {
  const { rowStart, start, end, count } = runs;
  const parent = new Int32Array(count);
  for (let k = 0; k < count; k++) parent[k] = k;
  for (let j = 1; j < height; j++) {
    // The overlapping pairs of two sorted lists of disjoint runs: advance the one ending first.
    let a = rowStart[j - 1]!;
    let b = rowStart[j]!;
    const aEnd = rowStart[j]!;
    const bEnd = rowStart[j + 1]!;
    while (a < aEnd && b < bEnd) {
      if (start[a]! < end[b]! && start[b]! < end[a]!) {
        const x = find(parent, a);
        const y = find(parent, b);
        if (x !== y) parent[Math.max(x, y)] = Math.min(x, y);
      }
      if (end[a]! < end[b]!) a++;
      else b++;
    }
  }
  const size = new Int32Array(count);
  const border = new Uint8Array(count);
  for (let j = 0; j < height; j++) {
    const edgeRow = j === 0 || j === height - 1;
    for (let k = rowStart[j]!; k < rowStart[j + 1]!; k++) {
      const root = find(parent, k);
      parent[k] = root;
      size[root]! += end[k]! - start[k]!;
      if (edgeRow || start[k] === 0 || end[k] === width) border[root] = 1;
    }
  }
  return { root: parent, size, border };
}

/**
 * Closing (dilate, then erode) with a square of radius r, on the image padded by r pixels of glass:
 * tissue near the border neither grows to it nor is eaten by it. The reference version, pixel by
 * pixel with `morph`; `close` gives the same pixels four at a time.
 */
export function closeByPixels(mask: Uint8Array, width: number, height: number, r: number): Uint8Array {
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

const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;
const ONES = 0x01010101;

/**
 * `closeByPixels` on 32-bit words of four 0/1 pixels: radius r as r steps of radius 1 (a square of
 * radius r is r squares of radius 1 added), each a byte shift within words and a row OR/AND. The
 * padded rows are a whole number of words, at least r pixels of glass either side; a shift carries
 * a byte over from the neighbouring row, which is glass while dilating (no step reaches it) and
 * while eroding only reaches padding columns (an error spreads one column a step: r steps stay in
 * the padding), so the image's own pixels are exactly those of the reference.
 */
export function close(mask: Uint8Array, width: number, height: number, r: number): Uint8Array {
  if (r <= 0) return mask.slice();
  if (!LITTLE_ENDIAN) return closeByPixels(mask, width, height, r);
  return closeWith(width, height, r, (padded, pw) => {
    for (let j = 0; j < height; j++) {
      const q = (j + r) * pw + r;
      for (let i = 0, p = j * width; i < width; i++) padded[q + i] = mask[p + i] !== 0 ? 1 : 0;
    }
  });
}

/** `close` of the 0/1 image `fill` writes into the padded buffer (rows `pw` long, the image at (r, r)). */
function closeWith(
  width: number,
  height: number,
  r: number,
  fill: (padded: Uint8Array, pw: number) => void,
): Uint8Array {
  const pw = Math.ceil((width + 2 * r) / 4) * 4;
  const padded = new Uint8Array(pw * (height + 2 * r));
  fill(padded, pw);
  const words = new Uint32Array(padded.buffer);
  const tmp = new Uint32Array(words.length);
  for (let k = 0; k < r; k++) step3(words, tmp, pw / 4, true);
  for (let k = 0; k < r; k++) step3(words, tmp, pw / 4, false);
  const out = new Uint8Array(width * height);
  for (let j = 0; j < height; j++) out.set(padded.subarray((j + r) * pw + r, (j + r) * pw + r + width), j * width);
  return out;
}

/**
 * One 3 x 3 dilation (OR) or erosion (AND) of `a` in place (`tmp`: scratch), rows `w` words long:
 * across the row within words (a pixel's left neighbour is the byte below it, little-endian), then
 * down the columns word by word. Past the top and bottom is glass when dilating, tissue when eroding.
 */
function step3(a: Uint32Array, tmp: Uint32Array, w: number, dilate: boolean): void {
  const n = a.length;
  const outside = dilate ? 0 : ONES;
  let prev = outside;
  let cur = a[0]!;
  for (let k = 0; k < n; k++) {
    const next = k + 1 < n ? a[k + 1]! : outside;
    const left = (cur << 8) | (prev >>> 24);
    const right = (cur >>> 8) | (next << 24);
    tmp[k] = dilate ? cur | left | right : cur & left & right;
    prev = cur;
    cur = next;
  }
  for (let k = 0; k < n; k++) {
    const up = k >= w ? tmp[k - w]! : outside;
    const down = k + w < n ? tmp[k + w]! : outside;
    a[k] = dilate ? up | tmp[k]! | down : up & tmp[k]! & down;
  }
}

/** Sets `to` on every run of `value` whose component `pick` accepts (in place). */
function paintComponents(
  mask: Uint8Array,
  width: number,
  height: number,
  value: number,
  to: number,
  pick: (size: number, border: number) => boolean,
): void {
  const runs = findRuns(mask, width, height, value);
  const { root, size, border } = runComponents(runs, width, height);
  const chosen = new Uint8Array(runs.count);
  for (let k = 0; k < runs.count; k++) if (root[k] === k) chosen[k] = pick(size[k]!, border[k]!) ? 1 : 0;
  for (let j = 0; j < height; j++) {
    for (let k = runs.rowStart[j]!; k < runs.rowStart[j + 1]!; k++) {
      if (chosen[root[k]!]) mask.fill(to, j * width + runs.start[k]!, j * width + runs.end[k]!);
    }
  }
}

/** Fills every glass component that does not touch the border (a hole in tissue). */
export function fillHoles(mask: Uint8Array, width: number, height: number): Uint8Array {
  const out = mask.slice();
  paintComponents(out, width, height, 0, 1, (_size, border) => border === 0);
  return out;
}

/** Drops tissue components of fewer than `minPx` pixels. */
export function dropSpecks(mask: Uint8Array, width: number, height: number, minPx: number): Uint8Array {
  const out = mask.slice();
  paintComponents(out, width, height, 1, 0, (size) => size < minPx);
  return out;
}

export function detectTissue(img: RgbImage, opts: TissueOptions): TissueResult {
  const { width, height } = img;
  const n = width * height;
  const { sat, ink, hist, inkPx } = stainChannels(img);
  const threshold = Math.min(MAX_THRESHOLD, Math.max(MIN_THRESHOLD, otsuThreshold(hist)));
  const um = opts.umPerPixel ?? 8;
  const r = Math.round(CLOSE_UM / um / 2);
  let mask: Uint8Array;
  if (r > 0 && LITTLE_ENDIAN) {
    // The threshold written straight into the closing's padded buffer: one pass and one copy fewer.
    mask = closeWith(width, height, r, (padded, pw) => {
      for (let j = 0; j < height; j++) {
        const q = (j + r) * pw + r;
        for (let i = 0, p = j * width; i < width; i++) padded[q + i] = sat[p + i]! > threshold ? 1 : 0;
      }
    });
  } else {
    mask = new Uint8Array(n);
    for (let p = 0; p < n; p++) mask[p] = sat[p]! > threshold ? 1 : 0;
    mask = close(mask, width, height, r);
  }
  paintComponents(mask, width, height, 0, 1, (_size, border) => border === 0);
  if (inkPx > 0) for (let p = 0; p < n; p++) if (ink[p]) mask[p] = 0;
  const minPx = Math.max(1, Math.round(MIN_OBJECT_UM2 / (um * um)));
  paintComponents(mask, width, height, 1, 0, (size) => size < minPx);
  return { mask, threshold, inkPx };
}
