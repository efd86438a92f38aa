/*
 * Separable Lanczos-3 resampling of an RGB canvas, one axis after the other. Sample centres are aligned as libvips and Pillow align
 * them: output pixel x covers input (x + 0.5) * scale - 0.5. Downscaling widens the kernel by the
 * ratio (an antialiasing filter); upscaling keeps it at one input pixel. Weights are 14-bit fixed
 * point, normalised so each output pixel's weights sum to exactly 1: a flat area stays flat. The
 * intermediate image is rounded to 8 bits, as libvips rounds between its two passes. The output is
 * made 16 rows at a time in cache (see ROWS); test/support/lanczos-reference.ts models the arithmetic
 * plainly, and test/imaging/resample-exact.test.ts holds these bytes to it.
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
  /* Per output index, the taps from its first to its last non-zero weight: the only ones the passes
   * weigh (a zero weight's term is exactly 0). A 3% downscale has ~1 zero tap in 7 at the ends. */
  struct live_taps {
    int32_t start; /* input index of the first non-zero weight */
    int16_t skip, count; /* its tap index, and how many from there */
  } *live;
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
  f->live = malloc(sizeof(struct live_taps) * m);
  double *w = malloc(sizeof(double) * taps);
  if (!f->start || !f->weights || !f->live || !w) {
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
    int first_used = 0, last_used = taps - 1;
    while (q[first_used] == 0) first_used++; /* the weights sum to ONE: some are not 0 */
    while (q[last_used] == 0) last_used--;
    f->live[o] = (struct live_taps){start + first_used, (int16_t)first_used, (int16_t)(last_used - first_used + 1)};
  }
  free(w);
  return 0;
}

static void free_filter(filter *f) {
  free(f->start);
  free(f->weights);
  free(f->live);
}

/* The last filters made on this thread, by (n, m): patches of one size at one mpp all need the
 * same two, and computing them (two sines a tap) costs a fifth of the filtering. */
typedef struct {
  uint32_t n, m;
  filter f;
} cached_filter;

static __thread cached_filter recent[4];
static __thread unsigned next_slot;

static const filter *filter_for(uint32_t n, uint32_t m, const filter *keep) {
  for (int i = 0; i < 4; i++)
    if (recent[i].f.start && recent[i].n == n && recent[i].m == m) return &recent[i].f;
  cached_filter *c = &recent[next_slot++ % 4];
  if (&c->f == keep) c = &recent[next_slot++ % 4];
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

/* The passes' sums run in AVX2 intrinsics where the CPU has AVX2 (below), else in the portable loops
 * here, which the compiler vectorises as it can (SSE2 on any x86-64: 8 lanes). The transposes are
 * compiled twice where the compiler can (AVX2 and the baseline), picked at load for the CPU.
 * RESAMPLE_BASELINE_ONLY builds the portable code alone (to test that path on an AVX2 machine). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(RESAMPLE_BASELINE_ONLY)
#define VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define VECTOR_CLONES
#endif

/* The output is made ROWS rows at a time, all in cache: the vertical pass makes ROWS rows; they are
 * transposed so each input pixel's ROWS x 3 values lie together; the horizontal pass then weights
 * whole such groups (one weight for 48 lanes) and the result is transposed back into the rows. The
 * transposes are of 16 x 16 bytes in vector registers: the whole-image transposes of pixels they
 * replace cost as much as both passes. */
enum { ROWS = 16, GROUP = 3 * ROWS };

/* The arithmetic of both passes, on one value: `v` is pixel << 7, whose product's high half is
 * pixel * weight / 2^9 (the pixel in 1/32 units), truncated. The sum, from the bias 16 + taps / 2
 * (rounding, plus the truncations' mean), is taken back to 8 bits by >> 5. In 16-bit lanes (what
 * SIMD multiplies fastest): with at most 24 taps (MAX_RESAMPLE_RATIO) the truncation error is under
 * 12 units, below half a grey level (16), so a flat area stays exactly flat; the sums (lobes of at
 * most ~1.2 x 255 x 32) fit 16 bits. */
#define TERM(v, w) ((int16_t)(((int32_t)(v) * (w)) >> 16))
#define BIAS(f) ((int16_t)(16 + (f)->taps / 2)) /* of all the taps, zero or not: the rounding as it was */

/* Output index o's non-zero weights; *start is the input index of the first, *count how many. */
static inline const int16_t *live_weights(const filter *f, uint32_t o, size_t *start, int *count) {
  const struct live_taps *l = &f->live[o];
  *start = (size_t)l->start;
  *count = l->count;
  return f->weights + (size_t)o * f->taps + l->skip;
}

/* One max and one min: the compiler makes them a saturating pack. */
static inline unsigned char narrow(int16_t acc) {
  int16_t v = (int16_t)(acc >> 5);
  v = v < 0 ? 0 : v;
  return (unsigned char)(v > 255 ? 255 : v);
}

/* The input rows output rows y0 .. y0 + ROWS of the vertical pass read: [*lo, *hi). start[] only grows. */
static void rows_read(const filter *f, uint32_t y0, uint32_t oh, uint32_t *lo, uint32_t *hi) {
  uint32_t last = y0 + ROWS - 1 < oh ? y0 + ROWS - 1 : oh - 1;
  *lo = (uint32_t)f->start[y0];
  *hi = (uint32_t)f->start[last] + (uint32_t)f->taps;
}

static void widen(const unsigned char *in, size_t n, int16_t *out) {
  for (size_t i = 0; i < n; i++) out[i] = (int16_t)(in[i] << 7);
}

/* RUN values of one output row from `taps` rows `len` apart: sums kept in registers over all taps. */
enum { RUN = 32 };
static inline void vertical_run(const int16_t *p, size_t len, const int16_t *w, int taps, int16_t bias,
                                unsigned char *dst) {
  int16_t acc[RUN];
  for (int i = 0; i < RUN; i++) acc[i] = bias;
  for (int k = 0; k < taps; k++, p += len) {
    int16_t wk = w[k];
    for (int i = 0; i < RUN; i++) acc[i] += TERM(p[i], wk);
  }
  for (int i = 0; i < RUN; i++) dst[i] = narrow(acc[i]);
}

/* Vertical pass: rows y0 .. y0 + ROWS of the iw x oh intermediate, each `len` = iw x 3 values, into
 * `tile` (ROWS x len bytes), from `wide`: the input rows from `lo` on, << 7 (16-bit loads are what
 * lets the compiler use the 16-bit high-half multiply). Rows past the last (oh) repeat it, so the
 * block stays whole. */
static void vertical_block(const int16_t *wide, size_t len, const filter *f, uint32_t y0, uint32_t oh, uint32_t lo,
                           unsigned char *tile) {
  const int16_t bias = BIAS(f);
  for (uint32_t r = 0; r < ROWS; r++) {
    uint32_t o = y0 + r < oh ? y0 + r : oh - 1;
    size_t start;
    int taps;
    const int16_t *w = live_weights(f, o, &start, &taps);
    const int16_t *first = wide + (start - lo) * len;
    unsigned char *dst = tile + (size_t)r * len;
    size_t at = 0;
    for (; at + RUN <= len; at += RUN) vertical_run(first + at, len, w, taps, bias, dst + at);
    if (at < len && len >= RUN) { /* the last run overlaps the one before: the same values again */
      vertical_run(first + len - RUN, len, w, taps, bias, dst + len - RUN);
      at = len;
    }
    for (; at < len; at++) {
      int16_t acc = bias;
      for (int k = 0; k < taps; k++) acc += TERM(first[(size_t)k * len + at], w[k]);
      dst[at] = narrow(acc);
    }
  }
}

/* Horizontal pass over a transposed block: `cols` holds input pixel x's GROUP values (3 channels x
 * ROWS rows, pixel << 7) at x * GROUP; output pixel o's GROUP bytes go to group + o * GROUP. */
static void horizontal_block(const int16_t *cols, const filter *f, uint32_t ow, unsigned char *group) {
  const int16_t bias = BIAS(f);
  for (uint32_t o = 0; o < ow; o++) {
    size_t start;
    int taps;
    const int16_t *w = live_weights(f, o, &start, &taps);
    const int16_t *p = cols + start * GROUP;
    int16_t acc[GROUP];
    for (int i = 0; i < GROUP; i++) acc[i] = bias;
    for (int k = 0; k < taps; k++, p += GROUP) {
      int16_t wk = w[k];
      for (int i = 0; i < GROUP; i++) acc[i] += TERM(p[i], wk);
    }
    for (int i = 0; i < GROUP; i++) group[(size_t)o * GROUP + i] = narrow(acc[i]);
  }
}

/* The two passes again in AVX2 intrinsics, used when the CPU has AVX2: the compiler vectorises the
 * loops above only in some shapes (a 16-value run stays scalar, the high-half multiply of bytes
 * widened in registers becomes a 32-bit one, sums spill to the stack); these are ~2x faster. Same
 * terms, same order, same bias and saturation (packus is the clamp). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(RESAMPLE_BASELINE_ONLY)
#define AVX2_KERNELS 1
#include <immintrin.h>

static int have_avx2(void) {
  static int known = -1; /* the same answer from every thread: a race to write it is harmless */
  if (known < 0) known = __builtin_cpu_supports("avx2") ? 1 : 0;
  return known;
}

/* 16 sums >> 5, saturated to bytes, in the low half. */
__attribute__((target("avx2"))) static inline __m128i narrow16(__m256i acc) {
  __m256i v = _mm256_srai_epi16(acc, 5);
  return _mm256_castsi256_si128(_mm256_permute4x64_epi64(_mm256_packus_epi16(v, v), 0xD8));
}

/* 16 input bytes as 16-bit lanes, << 7: widened as they are loaded, no widened copy of the input. */
__attribute__((target("avx2"))) static inline __m256i load16(const unsigned char *p) {
  return _mm256_slli_epi16(_mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)p)), 7);
}

/* 16 values from `p` (`step` apart per tap), weighted by w[0 .. taps): bias + sum of high halves. */
__attribute__((target("avx2"))) static inline __m256i weigh16(const unsigned char *p, size_t step, const int16_t *w,
                                                               int taps, int16_t bias) {
  __m256i acc = _mm256_set1_epi16(bias);
  for (int k = 0; k < taps; k++, p += step)
    acc = _mm256_add_epi16(acc, _mm256_mulhi_epi16(load16(p), _mm256_set1_epi16(w[k])));
  return acc;
}

/* weigh16 for 64 values at once into `dst`, bytes: four sums in registers, one weight broadcast a tap. */
__attribute__((target("avx2"))) static inline void weigh64(const unsigned char *p, size_t step, const int16_t *w,
                                                           int taps, int16_t bias, unsigned char *dst) {
  __m256i a0 = _mm256_set1_epi16(bias), a1 = a0, a2 = a0, a3 = a0;
  for (int k = 0; k < taps; k++, p += step) {
    __m256i wk = _mm256_set1_epi16(w[k]);
    a0 = _mm256_add_epi16(a0, _mm256_mulhi_epi16(load16(p), wk));
    a1 = _mm256_add_epi16(a1, _mm256_mulhi_epi16(load16(p + 16), wk));
    a2 = _mm256_add_epi16(a2, _mm256_mulhi_epi16(load16(p + 32), wk));
    a3 = _mm256_add_epi16(a3, _mm256_mulhi_epi16(load16(p + 48), wk));
  }
  _mm_storeu_si128((__m128i *)dst, narrow16(a0));
  _mm_storeu_si128((__m128i *)(dst + 16), narrow16(a1));
  _mm_storeu_si128((__m128i *)(dst + 32), narrow16(a2));
  _mm_storeu_si128((__m128i *)(dst + 48), narrow16(a3));
}

/* vertical_block, reading the input bytes themselves. */
__attribute__((target("avx2"))) static void vertical_block_avx2(const unsigned char *in, size_t len, const filter *f,
                                                                uint32_t y0, uint32_t oh, unsigned char *tile) {
  const int16_t bias = BIAS(f);
  for (uint32_t r = 0; r < ROWS; r++) {
    uint32_t o = y0 + r < oh ? y0 + r : oh - 1;
    size_t start;
    int taps;
    const int16_t *w = live_weights(f, o, &start, &taps);
    const unsigned char *first = in + start * len;
    unsigned char *dst = tile + (size_t)r * len;
    size_t at = 0;
    for (; at + 64 <= len; at += 64) weigh64(first + at, len, w, taps, bias, dst + at);
    for (; at + 16 <= len; at += 16)
      _mm_storeu_si128((__m128i *)(dst + at), narrow16(weigh16(first + at, len, w, taps, bias)));
    if (at < len && len >= 16) { /* the last 16 overlap those before: the same values again */
      at = len - 16;
      _mm_storeu_si128((__m128i *)(dst + at), narrow16(weigh16(first + at, len, w, taps, bias)));
      at = len;
    }
    for (; at < len; at++) {
      int16_t acc = bias;
      for (int k = 0; k < taps; k++) acc += TERM((int16_t)(first[(size_t)k * len + at] << 7), w[k]);
      dst[at] = narrow(acc);
    }
  }
}

__attribute__((target("avx2"))) static void horizontal_block_avx2(const int16_t *cols, const filter *f, uint32_t ow,
                                                                  unsigned char *group) {
  const int16_t bias = BIAS(f);
  for (uint32_t o = 0; o < ow; o++) {
    size_t start;
    int taps;
    const int16_t *w = live_weights(f, o, &start, &taps);
    const int16_t *p = cols + start * GROUP;
    __m256i a0 = _mm256_set1_epi16(bias), a1 = a0, a2 = a0;
    for (int k = 0; k < taps; k++, p += GROUP) {
      __m256i wk = _mm256_set1_epi16(w[k]);
      a0 = _mm256_add_epi16(a0, _mm256_mulhi_epi16(_mm256_loadu_si256((const __m256i *)p), wk));
      a1 = _mm256_add_epi16(a1, _mm256_mulhi_epi16(_mm256_loadu_si256((const __m256i *)(p + 16)), wk));
      a2 = _mm256_add_epi16(a2, _mm256_mulhi_epi16(_mm256_loadu_si256((const __m256i *)(p + 32)), wk));
    }
    unsigned char *dst = group + (size_t)o * GROUP;
    _mm_storeu_si128((__m128i *)dst, narrow16(a0));
    _mm_storeu_si128((__m128i *)(dst + 16), narrow16(a1));
    _mm_storeu_si128((__m128i *)(dst + 32), narrow16(a2));
  }
}
#endif

#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 9
#define BYTE_VECTORS 1
typedef unsigned char bytes16 __attribute__((vector_size(16)));
typedef int16_t shorts16 __attribute__((vector_size(32)));
#define LOW_HALVES(a, b) __builtin_shuffle(a, b, (bytes16){0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23})
#define HIGH_HALVES(a, b) \
  __builtin_shuffle(a, b, (bytes16){8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31})

/* A 16 x 16 byte matrix (v[i] is row i) transposed in registers: interleaving row i with row i + 8,
 * four times over (log2 16), moves byte (i, j) to (j, i). (Two such side by side in 32-byte vectors
 * were no faster with AVX2, and much slower on the baseline, which has no 32-byte shuffles.) */
static inline void transpose16(bytes16 v[16]) {
  for (int round = 0; round < 4; round++) {
    bytes16 t[16];
    for (int i = 0; i < 8; i++) {
      t[2 * i] = LOW_HALVES(v[i], v[i + 8]);
      t[2 * i + 1] = HIGH_HALVES(v[i], v[i + 8]);
    }
    memcpy(v, t, sizeof t);
  }
}
#endif

/* The tile (ROWS rows of len bytes) as columns: value j of every row, << 7, at cols + j * ROWS. 16
 * values at a time, the last 16 overlapping those before when len is not a multiple (the same
 * values again); a tile narrower than 16 value by value. */
VECTOR_CLONES static void tile_to_columns(const unsigned char *tile, size_t len, int16_t *cols) {
  size_t j = 0;
#ifdef BYTE_VECTORS
  for (size_t at = 0; at < len && len >= 16; at += 16) {
    j = at + 16 <= len ? at : len - 16;
    bytes16 v[16];
    for (int r = 0; r < ROWS; r++) memcpy(&v[r], tile + (size_t)r * len + j, 16);
    transpose16(v);
    for (int c = 0; c < 16; c++) {
      shorts16 wide = __builtin_convertvector(v[c], shorts16) << 7;
      memcpy(cols + (j + c) * ROWS, &wide, sizeof wide);
    }
    j = len;
  }
#endif
  for (; j < len; j++)
    for (int r = 0; r < ROWS; r++) cols[j * ROWS + r] = (int16_t)(tile[(size_t)r * len + j] << 7);
}

/* The horizontal pass's groups (value j of ROWS rows at group + j * ROWS, len values) back into the
 * `rows` first rows of `out` (`stride` bytes apart), 16 values at a time as in tile_to_columns. */
VECTOR_CLONES static void columns_to_rows(const unsigned char *group, size_t len, uint32_t rows, unsigned char *out,
                                          size_t stride) {
  size_t j = 0;
#ifdef BYTE_VECTORS
  for (size_t at = 0; at < len && len >= 16; at += 16) {
    j = at + 16 <= len ? at : len - 16;
    bytes16 v[16];
    memcpy(v, group + j * ROWS, sizeof v);
    transpose16(v);
    for (uint32_t r = 0; r < rows; r++) memcpy(out + r * stride + j, &v[r], 16);
    j = len;
  }
#endif
  for (; j < len; j++)
    for (uint32_t r = 0; r < rows; r++) out[r * stride + j] = group[j * ROWS + r];
}

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

/* Whether the AVX2 kernels run: this CPU has AVX2 and they were compiled. */
static int uses_avx2(void) {
#ifdef AVX2_KERNELS
  return have_avx2();
#else
  return 0;
#endif
}

/* Vertical pass, then the horizontal one, ROWS output rows at a time (see ROWS). The portable path
 * widens the input rows each block reads first (the next block re-widens the few it shares: cheaper
 * than keeping them); the AVX2 one widens them in registers. */
int resample_rgb(const unsigned char *in, uint32_t iw, uint32_t ih, unsigned char *out, uint32_t ow, uint32_t oh) {
  const filter *fv = filter_for(ih, oh, NULL), *fh = filter_for(iw, ow, fv);
  if (!fv || !fh) return -1;
  const int avx2 = uses_avx2();
  uint32_t lo, hi, most = 0;
  for (uint32_t y0 = 0; y0 < oh && !avx2; y0 += ROWS) {
    rows_read(fv, y0, oh, &lo, &hi);
    if (hi - lo > most) most = hi - lo;
  }
  size_t len = (size_t)iw * 3, wide_bytes = sizeof(int16_t) * len * most;
  size_t cols_bytes = sizeof(int16_t) * len * ROWS, tile_bytes = len * ROWS;
  unsigned char *block = scratch(SCRATCH_RESAMPLE, wide_bytes + cols_bytes + tile_bytes + (size_t)ow * GROUP);
  if (!block) return -1;
  int16_t *wide = (int16_t *)block, *cols = (int16_t *)(block + wide_bytes);
  unsigned char *tile = block + wide_bytes + cols_bytes, *group = tile + tile_bytes;
  for (uint32_t y0 = 0; y0 < oh; y0 += ROWS) {
#ifdef AVX2_KERNELS
    if (avx2) {
      vertical_block_avx2(in, len, fv, y0, oh, tile);
      tile_to_columns(tile, len, cols);
      horizontal_block_avx2(cols, fh, ow, group);
    } else
#endif
    {
      rows_read(fv, y0, oh, &lo, &hi);
      widen(in + (size_t)lo * len, (size_t)(hi - lo) * len, wide);
      vertical_block(wide, len, fv, y0, oh, lo, tile);
      tile_to_columns(tile, len, cols);
      horizontal_block(cols, fh, ow, group);
    }
    uint32_t rows = oh - y0 < ROWS ? oh - y0 : ROWS;
    columns_to_rows(group, (size_t)ow * 3, rows, out + (size_t)y0 * ow * 3, (size_t)ow * 3);
  }
  release(SCRATCH_RESAMPLE, block);
  return 0;
}
