/*
 * Separable Lanczos-3 resampling of an RGB canvas, one axis after the other. Sample centres are aligned as libvips and Pillow align
 * them: output pixel x covers input (x + 0.5) * scale - 0.5. Downscaling widens the kernel by the
 * ratio (an antialiasing filter); upscaling keeps it at one input pixel. Weights are 14-bit fixed
 * point, normalised so each output pixel's weights sum to exactly 1: a flat area stays flat. The
 * intermediate image is rounded to 8 bits, as libvips rounds between its two passes.
 */
#include "resample.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define WEIGHT_BITS 14
#define ONE (1 << WEIGHT_BITS)

typedef struct {
  int32_t *start; /* first input index of each output index */
  int16_t *weights; /* taps per output index */
  int taps;
} filter;

static double lanczos3(double x) {
  if (x < 0) x = -x;
  if (x < 1e-9) return 1.0;
  if (x >= 3.0) return 0.0;
  double px = M_PI * x;
  return 3.0 * sin(px) * sin(px / 3.0) / (px * px);
}

/* The weights of one axis, input length n to m. Taps that fall outside the input are folded onto
 * its edge pixel (edge extension), so every start + taps stays inside [0, n). */
static int make_filter(filter *f, uint32_t n, uint32_t m) {
  double scale = (double)n / m;
  double support = 3.0 * (scale > 1 ? scale : 1);
  /* The integers strictly inside centre +- support (the kernel is 0 at its ends). */
  int taps = (int)ceil(2 * support);
  if (taps > (int)n) taps = (int)n;
  f->taps = taps;
  f->start = malloc(sizeof(int32_t) * m);
  f->weights = malloc(sizeof(int16_t) * (size_t)m * taps);
  double *w = malloc(sizeof(double) * taps);
  if (!f->start || !f->weights || !w) {
    free(w);
    return -1;
  }
  double stretch = scale > 1 ? scale : 1;
  for (uint32_t o = 0; o < m; o++) {
    double centre = (o + 0.5) * scale - 0.5;
    int first = (int)floor(centre - support) + 1;
    int start = first < 0 ? 0 : first;
    if (start + taps > (int)n) start = (int)n - taps;
    memset(w, 0, sizeof(double) * taps);
    double sum = 0;
    for (int i = first; i <= (int)floor(centre + support); i++) {
      double v = lanczos3((i - centre) / stretch);
      int at = (i < 0 ? 0 : i >= (int)n ? (int)n - 1 : i) - start;
      if (at < 0) at = 0;
      if (at >= taps) at = taps - 1;
      w[at] += v;
      sum += v;
    }
    int16_t *q = f->weights + (size_t)o * taps;
    int total = 0, biggest = 0;
    for (int k = 0; k < taps; k++) {
      q[k] = (int16_t)lrint(w[k] / sum * ONE);
      total += q[k];
      if (q[k] > q[biggest]) biggest = k;
    }
    q[biggest] += ONE - total; /* the rounding residue goes to the centre tap */
    f->start[o] = start;
  }
  free(w);
  return 0;
}

static void free_filter(filter *f) {
  free(f->start);
  free(f->weights);
}

/* The last filters made on this thread, by (n, m): patches of one size at one mpp all need the
 * same two, and computing them (two sines a tap) costs a fifth of the filtering. */
typedef struct {
  uint32_t n, m;
  filter f;
} cached_filter;

static __thread cached_filter recent[4];
static __thread unsigned next_slot;

static const filter *filter_for(uint32_t n, uint32_t m) {
  for (int i = 0; i < 4; i++)
    if (recent[i].f.start && recent[i].n == n && recent[i].m == m) return &recent[i].f;
  cached_filter *c = &recent[next_slot++ % 4];
  free_filter(&c->f);
  memset(c, 0, sizeof *c);
  if (make_filter(&c->f, n, m)) {
    free_filter(&c->f);
    memset(c, 0, sizeof *c);
    return NULL;
  }
  c->n = n;
  c->m = m;
  return &c->f;
}

/* Compiled twice where the compiler can (AVX2 and the baseline), picked at load for the CPU: with
 * AVX2 the weighted sum does 8 lanes per instruction, without it multiplies are emulated. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define VECTOR_CLONES
#endif

/* Rows: out row o = sum over taps of in rows start[o] + k, weighted; `len` values per row. In 16-bit
 * lanes (what SIMD multiplies fastest): `in` holds pixel << 7, and each term is the high half of its
 * product with the weight, pixel * weight / 2^9 (the pixel in 1/32 units), truncated; the sum is
 * rounded back to 8 bits with the truncations' mean (taps / 2 units) added back. With at most 24 taps
 * (MAX_RESAMPLE_RATIO) the error is under 12 units, below half a grey level (16): a flat area stays
 * exactly flat. The sums (lobes of at most ~1.2 x 255 x 32) fit 16 bits. */
VECTOR_CLONES static void vertical(const int16_t *in, size_t len, const filter *f, uint32_t m, unsigned char *out) {
  enum { RUN = 512 };
  int16_t acc[RUN];
  const int16_t bias = (int16_t)(16 + f->taps / 2);
  for (uint32_t o = 0; o < m; o++) {
    const int16_t *w = f->weights + (size_t)o * f->taps;
    const int16_t *first = in + (size_t)f->start[o] * len;
    unsigned char *dst = out + (size_t)o * len;
    for (size_t at = 0; at < len; at += RUN) {
      size_t n = len - at < RUN ? len - at : RUN;
      for (size_t i = 0; i < n; i++) acc[i] = bias;
      for (int k = 0; k < f->taps; k++) {
        const int16_t *r = first + (size_t)k * len + at;
        int16_t wk = w[k];
        for (size_t i = 0; i < n; i++) acc[i] += (int16_t)(((int32_t)r[i] * wk) >> 16);
      }
      for (size_t i = 0; i < n; i++) {
        int16_t v = acc[i] >> 5;
        dst[at + i] = (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
      }
    }
  }
}

VECTOR_CLONES static void widen(const unsigned char *in, size_t n, int16_t *out) {
  for (size_t i = 0; i < n; i++) out[i] = (int16_t)(in[i] << 7);
}

/* RGB pixels of a w x h image into an h x w one (columns become rows), in blocks to stay in cache,
 * converted by T (a plain copy, or the passes' input: pixel << 7). */
#define TRANSPOSE(name, type, T)                                                     \
  static void name(const unsigned char *in, uint32_t w, uint32_t h, type *out) {     \
    enum { B = 16 };                                                                 \
    for (uint32_t y0 = 0; y0 < h; y0 += B)                                           \
      for (uint32_t x0 = 0; x0 < w; x0 += B) {                                       \
        uint32_t y1 = y0 + B < h ? y0 + B : h, x1 = x0 + B < w ? x0 + B : w;         \
        for (uint32_t x = x0; x < x1; x++) {                                         \
          type *q = out + ((size_t)x * h + y0) * 3;                                  \
          const unsigned char *p = in + ((size_t)y0 * w + x) * 3;                    \
          for (uint32_t y = y0; y < y1; y++, q += 3, p += (size_t)w * 3) {           \
            q[0] = T(p[0]);                                                          \
            q[1] = T(p[1]);                                                          \
            q[2] = T(p[2]);                                                          \
          }                                                                          \
        }                                                                            \
      }                                                                              \
  }
#define AS_IS(v) (v)
#define WIDENED(v) ((int16_t)((v) << 7))
TRANSPOSE(transpose, unsigned char, AS_IS)
TRANSPOSE(transpose_widened, int16_t, WIDENED)

#define KEPT_SCRATCH ((size_t)8 << 20)

static __thread unsigned char *kept[SCRATCH_SLOTS];
static __thread size_t kept_size[SCRATCH_SLOTS];

unsigned char *scratch(int slot, size_t size) {
  if (size > KEPT_SCRATCH) return malloc(size);
  if (size > kept_size[slot]) {
    size_t grown = KEPT_SCRATCH < 2 * size ? KEPT_SCRATCH : 2 * size;
    free(kept[slot]);
    kept_size[slot] = 0;
    if (!(kept[slot] = malloc(grown))) return NULL;
    kept_size[slot] = grown;
  }
  return kept[slot];
}

void release(int slot, unsigned char *p) {
  if (p != kept[slot]) free(p);
}

/* Vertical pass, then the horizontal one as a vertical pass over the transposed image: both inner
 * loops run along rows with one weight (vectorised), which a per-pixel horizontal loop is not (~4x slower). */
int resample_rgb(const unsigned char *in, uint32_t iw, uint32_t ih, unsigned char *out, uint32_t ow, uint32_t oh) {
  unsigned char *block = NULL;
  int rc = -1;
  size_t wide_bytes = sizeof(int16_t) * iw * 3 * (ih > oh ? ih : oh);
  size_t mid_bytes = (size_t)iw * oh * 3, narrowed_bytes = (size_t)ow * oh * 3;
  const filter *fv = filter_for(ih, oh), *fh = filter_for(iw, ow);
  if (!fv || !fh) goto done;
  if (!(block = scratch(SCRATCH_RESAMPLE, wide_bytes + mid_bytes + narrowed_bytes))) goto done;
  int16_t *wide = (int16_t *)block;
  unsigned char *mid = block + wide_bytes, *narrowed = mid + mid_bytes;
  widen(in, (size_t)iw * ih * 3, wide);
  vertical(wide, (size_t)iw * 3, fv, oh, mid);     /* iw x oh */
  transpose_widened(mid, iw, oh, wide);         /* oh x iw, widened */
  vertical(wide, (size_t)oh * 3, fh, ow, narrowed); /* oh x ow */
  transpose(narrowed, oh, ow, out);           /* ow x oh */
  rc = 0;
done:
  release(SCRATCH_RESAMPLE, block);
  return rc;
}
