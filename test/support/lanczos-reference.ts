/**
 * A plain model of the native Lanczos-3 resampler's arithmetic (native/jpeg-region/src/resample.c),
 * written for reading, not speed: the same weights (make_filter: 14-bit, edge taps folded onto the
 * edge pixel, the rounding residue on the biggest tap), the same 16-bit terms ((pixel << 7) * weight
 * >> 16, summed with int16 wrap-around from the bias 16 + taps / 2, then >> 5 and clamped), the
 * vertical axis first, rounded to 8 bits, then the horizontal one. The native code may reorganise
 * its loops however it likes; its bytes must equal these (test/imaging/resample-exact.test.ts).
 */
const ONE = 1 << 14;

export interface AxisFilter {
  /** First input index of each output index. */
  start: Int32Array;
  /** `taps` int16 weights per output index. */
  weights: Int16Array;
  taps: number;
}

function lanczos3(x: number): number {
  if (x < 0) x = -x;
  if (x < 1e-9) return 1.0;
  if (x >= 3.0) return 0.0;
  const px = Math.PI * x;
  return (3.0 * Math.sin(px) * Math.sin(px / 3.0)) / (px * px);
}

/** C's lrint in the default rounding mode: halves go to the even neighbour. */
function lrint(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The weights of one axis, `n` input values to `m` (make_filter). */
export function axisFilter(n: number, m: number): AxisFilter {
  const scale = n / m;
  const stretch = scale > 1 ? scale : 1;
  const support = 3.0 * stretch;
  const taps = Math.min(Math.ceil(2 * support), n);
  const start = new Int32Array(m);
  const weights = new Int16Array(m * taps);
  for (let o = 0; o < m; o++) {
    const centre = (o + 0.5) * scale - 0.5;
    const first = Math.floor(centre - support) + 1;
    let s = Math.max(first, 0);
    if (s + taps > n) s = n - taps;
    const w = new Array<number>(taps).fill(0);
    let sum = 0;
    for (let i = first; i <= Math.floor(centre + support); i++) {
      const v = lanczos3((i - centre) / stretch);
      const at = Math.min(Math.max(Math.min(Math.max(i, 0), n - 1) - s, 0), taps - 1);
      w[at]! += v;
      sum += v;
    }
    const q = weights.subarray(o * taps, (o + 1) * taps);
    let total = 0;
    let biggest = 0;
    for (let k = 0; k < taps; k++) {
      q[k] = lrint((w[k]! / sum) * ONE);
      total += q[k]!;
      if (q[k]! > q[biggest]!) biggest = k;
    }
    q[biggest]! += ONE - total;
    start[o] = s;
  }
  return { start, weights, taps };
}

/** One output value: `count` inputs `stride` apart from `at`, weighted by output index `o`'s taps. */
function filtered(src: Uint8Array, at: number, stride: number, f: AxisFilter, o: number): number {
  let acc = 16 + (f.taps >> 1);
  for (let k = 0; k < f.taps; k++) {
    const term = ((src[at + k * stride]! << 7) * f.weights[o * f.taps + k]!) >> 16;
    acc = ((acc + term) << 16) >> 16; // int16 wrap-around, as the 16-bit lanes add
  }
  const v = acc >> 5;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** `rgb` (iw x ih) resampled to ow x oh: the bytes the native resampler must produce. */
export function resampleReference(rgb: Uint8Array, iw: number, ih: number, ow: number, oh: number): Uint8Array {
  const fv = axisFilter(ih, oh);
  const fh = axisFilter(iw, ow);
  const mid = new Uint8Array(iw * oh * 3);
  for (let y = 0; y < oh; y++)
    for (let i = 0; i < iw * 3; i++) mid[y * iw * 3 + i] = filtered(rgb, fv.start[y]! * iw * 3 + i, iw * 3, fv, y);
  const out = new Uint8Array(ow * oh * 3);
  for (let y = 0; y < oh; y++)
    for (let x = 0; x < ow; x++)
      for (let c = 0; c < 3; c++) out[(y * ow + x) * 3 + c] = filtered(mid, (y * iw + fh.start[x]!) * 3 + c, 3, fh, x);
  return out;
}
