/*
 * Renders a region of a grid of stored JPEG tiles: decodes the part of each tile the region
 * covers, and only that part, into one RGB canvas, on the libuv thread pool, and optionally
 * encodes the canvas as JPEG in the same job (no second hop through libvips, whose per-call set-up
 * costs more than the encode of a 256 px tile). libjpeg-turbo's jpeg_crop_scanline() limits
 * inverse DCT, upsampling and colour conversion to the columns needed, jpeg_skip_scanlines() the
 * rows above, and the decode stops after the last row needed. A 256 px region over 512 px tiles
 * touches 2.25 tiles on average: decoding them whole is ~9x the pixels served.
 *
 * renderRegion(options, callback)
 *   options.tiles: complete JPEG streams (Buffer) or null (sparse: white), `across` per row.
 *   options.across, tileWidth, tileHeight: the grid. left, top, width, height: the region, relative
 *   to the first tile's top-left; it must lie inside the grid, so every byte of the canvas is written.
 *   options.outWidth, outHeight: the answer's size; when it differs from width, height the region is
 *   resampled to it (Lanczos-3, src/resample.c) before it is returned or encoded: one job decodes,
 *   resizes and encodes a patch asked at a resolution between stored levels.
 *   options.quality: 0 gives raw RGB in options.out (a Buffer of outWidth*outHeight*3 bytes at least);
 *   1..100 encodes the canvas as JPEG (standard Huffman tables: ~5% larger than optimised ones, a
 *   third faster) and options.out may be null (the canvas is then the job's own, never a JS buffer).
 *   options.decoded: null, or a Uint8Array with a flag per tile: 1 when that tile is given already
 *   decoded (RGB, tileWidth * tileHeight * 3 bytes: a cached tile, copied rather than decoded).
 *   callback(error | null, jpeg | undefined). A tile's error has a code: TILE_TOO_LARGE (its frame or
 *   its memory beyond the caps below), TILE_TOO_MANY_SCANS, or TILE_UNREADABLE (corrupt, truncated,
 *   CMYK, smaller than the tile size: another decoder may try). Bad options throw synchronously.
 *
 *   Instead of options.tiles, options.file = { fd, ranges, prefix } has the job read the stored tiles
 *   itself, with pread on the pool thread: ranges is a Float64Array of (offset, length) per tile
 *   (length 0: sparse), prefix what goes before each tile's bytes after its SOI (SOI, an Adobe
 *   segment for RGB tiles, the TIFF's shared JPEGTables): one pool job a region instead of a read per
 *   tile and a decode. The caller keeps fd open until the callback. Reading errors: SLIDE_TRUNCATED
 *   (the file ends before a tile), SLIDE_NOT_JPEG (a tile without SOI), READ_FAILED (pread's errno).
 */
#include <node_api.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jpeglib.h>
#include <jerror.h>
#include "resample.h"

/* The largest tile frame decoded: the largest TIFF tile the service indexes (MAX_TILE_SIDE in
 * src/slides/structure.ts) squared. A progressive stream keeps all its coefficients at once (~6
 * bytes a pixel with three full-resolution components), so a frame claiming 32767 x 32767 would
 * take 6.4 GB before the first row: refused from its header instead. */
#define MAX_TILE_PIXELS ((uint64_t)4096 * 4096)
/* Backstop to the frame check: libjpeg refuses whole-image arrays beyond this (a frame at the cap
 * needs ~100 MB). */
#define MAX_DECODER_MEMORY (160L * 1024 * 1024)
/* Real encoders write ~10 scans; each scan is a pass over the whole coefficient buffer. */
#define MAX_SCANS 100
/* The service's MAX_REGION_PIXELS can be configured up to 2^28. */
#define MAX_REGION_PIXELS ((int64_t)1 << 28)
/* More tiles than any region of MAX_REGION_PIXELS over 16 px tiles. */
#define MAX_TILES ((int64_t)1 << 21)

typedef struct {
  struct jpeg_error_mgr pub;
  jmp_buf jump;
  const char *code;
  char message[JMSG_LENGTH_MAX];
} error_mgr;

typedef struct {
  const unsigned char *data;
  size_t length;
  int64_t offset; /* where the tile's bytes are in the file (options.file only) */
  bool sparse;  /* null in the options: never written, shown white */
  bool decoded; /* RGB pixels of the whole tile, not JPEG */
} tile_ref;

typedef struct {
  napi_async_work work;
  napi_ref keep; /* an array of the buffers read or written, so none is collected meanwhile */
  napi_ref callback;
  tile_ref *tiles;
  int fd;                       /* options.file: tiles are read from here (-1: given as buffers) */
  const unsigned char *prefix; /* options.file: SOI and tables put before each tile's bytes */
  size_t prefix_length;
  uint32_t count, across, tile_width, tile_height, width, height;
  int64_t left, top;
  uint32_t out_width, out_height; /* the answer's size: the region resampled when it differs */
  unsigned char *canvas; /* the region as decoded: out itself, or the job's own when resampled */
  unsigned char *out;
  bool own_out; /* out was allocated here (no JS buffer given) */
  uint32_t quality; /* 1..100: encode the canvas into jpeg/jpeg_size; 0: leave it raw */
  unsigned char *jpeg;
  size_t jpeg_size, jpeg_capacity;
  const char *error_code;
  char error[JMSG_LENGTH_MAX + 64];
} job;

typedef struct {
  uint32_t x, y, w, h;
} rect;

/* ---- errors: libjpeg's and ours end in one longjmp to the function's one cleanup path ---- */

static void fail_job(job *j, const char *code, const char *prefix, const char *message) {
  j->error_code = code;
  snprintf(j->error, sizeof j->error, "%s%s", prefix, message);
}

static void on_error(j_common_ptr c) {
  error_mgr *e = (error_mgr *)c->err;
  int m = c->err->msg_code;
  /* Memory refused by MAX_DECODER_MEMORY shows as no backing store (libjpeg has no temp files here). */
  e->code = m == JERR_OUT_OF_MEMORY || m == JERR_NO_BACKING_STORE ? "TILE_TOO_LARGE" : "TILE_UNREADABLE";
  (*c->err->format_message)(c, e->message);
  longjmp(e->jump, 1);
}

/* Warnings are tolerated like libvips does with fail_on=error, except premature end of data. */
static void on_message(j_common_ptr c, int level) {
  if (level < 0 && c->err->msg_code == JWRN_JPEG_EOF) on_error(c);
}

static void refuse(j_common_ptr c, const char *code, const char *format, ...) {
  error_mgr *e = (error_mgr *)c->err;
  va_list args;
  va_start(args, format);
  vsnprintf(e->message, sizeof e->message, format, args);
  va_end(args);
  e->code = code;
  longjmp(e->jump, 1);
}

static struct jpeg_error_mgr *error_manager(error_mgr *e) {
  jpeg_std_error(&e->pub);
  e->pub.error_exit = on_error;
  e->pub.emit_message = on_message;
  e->code = "TILE_UNREADABLE";
  e->message[0] = 0;
  return &e->pub;
}

static void on_progress(j_common_ptr c) {
  if (((j_decompress_ptr)c)->input_scan_number > MAX_SCANS) {
    refuse(c, "TILE_TOO_MANY_SCANS", "more than %d scans", MAX_SCANS);
  }
}

/* ---- decoding ---- */

/* Refuses, from the header alone, a frame that is not a tile of this grid or would cost too much. */
static void check_frame(const job *j, j_decompress_ptr c) {
  /* Size first: a tile refused as unreadable goes to libvips, which must not get an oversized one. */
  uint64_t w = c->image_width, h = c->image_height;
  if (w > 2 * (uint64_t)j->tile_width || h > 2 * (uint64_t)j->tile_height || w * h > MAX_TILE_PIXELS) {
    refuse((j_common_ptr)c, "TILE_TOO_LARGE", "%ux%u, larger than the TIFF tile size (%ux%u) allows", c->image_width,
           c->image_height, j->tile_width, j->tile_height);
  }
  if (c->num_components != 3 && c->num_components != 1) {
    refuse((j_common_ptr)c, "TILE_UNREADABLE", "%d components (only grey and three-component tiles are read here)",
           c->num_components);
  }
}

/* Decodes tile rectangle s into out at (dx, dy). Errors longjmp. */
static void read_part(job *j, j_decompress_ptr c, const tile_ref *t, rect s, uint32_t dx, uint32_t dy) {
  if (t->length == 0) ERREXIT(c, JERR_INPUT_EMPTY);
  jpeg_mem_src(c, t->data, (unsigned long)t->length);
  jpeg_read_header(c, TRUE);
  check_frame(j, c);
  c->out_color_space = JCS_RGB;
  jpeg_start_decompress(c);
  if (c->output_width < s.x + s.w || c->output_height < s.y + s.h) {
    refuse((j_common_ptr)c, "TILE_UNREADABLE", "%ux%u, smaller than the TIFF tile size", c->output_width,
           c->output_height);
  }
  /* Context each side: fancy (smooth) chroma upsampling replicates the edge of a crop, so a crop
   * edge next to a wanted column would differ from a whole-tile decode. The crop starts on an iMCU
   * boundary at or before want0; one iMCU of margin on the right covers the chroma sample after. */
  JDIMENSION margin = (JDIMENSION)c->max_h_samp_factor * DCTSIZE;
  JDIMENSION want0 = s.x > 0 ? s.x - 1 : 0;
  JDIMENSION want1 = s.x + s.w + margin < c->output_width ? s.x + s.w + margin : c->output_width;
  JDIMENSION xoff = want0, cw = want1 - want0;
  if (want0 > 0 || want1 < c->output_width) jpeg_crop_scanline(c, &xoff, &cw);
  /* Rows are asked for ROWS at a time: one at a time, libjpeg's upsampler produces each pair of a
   * 4:2:0 tile into a spare row and copies it out again (a fifth of a region's decode time). From
   * the decoder's own pool: freed by jpeg_destroy_decompress, on every path. */
  enum { ROWS = 16 };
  JSAMPARRAY rows = (*c->mem->alloc_sarray)((j_common_ptr)c, JPOOL_IMAGE, c->output_width * 3, ROWS);
  if (s.y > 0 && jpeg_skip_scanlines(c, s.y) != s.y) ERREXIT(c, JERR_BAD_LENGTH);
  size_t stride = (size_t)j->width * 3;
  for (uint32_t y = 0; y < s.h;) {
    JDIMENSION want = s.h - y < ROWS ? s.h - y : ROWS;
    JDIMENSION got = jpeg_read_scanlines(c, rows, want);
    if (got == 0) ERREXIT(c, JERR_BAD_LENGTH);
    for (JDIMENSION r = 0; r < got; r++, y++) {
      memcpy(j->canvas + (size_t)(dy + y) * stride + (size_t)dx * 3, rows[r] + (size_t)(s.x - xoff) * 3,
             (size_t)s.w * 3);
    }
  }
  /* The rows below the region are never decoded: jpeg_destroy_decompress aborts the rest. */
}

static int decode_part(job *j, const tile_ref *t, rect s, uint32_t dx, uint32_t dy) {
  struct jpeg_decompress_struct cinfo;
  struct jpeg_progress_mgr progress;
  error_mgr err;
  volatile int rc = -1;
  memset(&cinfo, 0, sizeof cinfo);
  memset(&progress, 0, sizeof progress);
  progress.progress_monitor = on_progress;
  cinfo.err = error_manager(&err);
  if (setjmp(err.jump) == 0) {
    jpeg_create_decompress(&cinfo);
    cinfo.mem->max_memory_to_use = MAX_DECODER_MEMORY;
    cinfo.progress = &progress;
    read_part(j, &cinfo, t, s, dx, dy);
    rc = 0;
  } else {
    fail_job(j, err.code, "JPEG tile: ", err.message);
  }
  jpeg_destroy_decompress(&cinfo);
  return rc;
}

/* A stored tile of options.file as a complete JPEG stream: the prefix, then the tile's bytes after
 * its SOI, read straight behind the prefix (no second copy). NULL with the job failed on errors. */
static unsigned char *read_stored(job *j, const tile_ref *t, size_t *length) {
  size_t head = j->prefix_length - 2, want = t->length;
  unsigned char *buf = malloc(head + want);
  if (!buf) {
    fail_job(j, "OUT_OF_MEMORY", "", "out of memory");
    return NULL;
  }
  unsigned char *at = buf + head;
  size_t got = 0;
  while (got < want) {
    ssize_t n = pread(j->fd, at + got, want - got, (off_t)(t->offset + (int64_t)got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      char why[64];
      snprintf(why, sizeof why, "pread failed (errno %d)", errno);
      fail_job(j, n < 0 ? "READ_FAILED" : "SLIDE_TRUNCATED", "",
               n < 0 ? why : "the slide file is shorter than its tile index says (truncated?)");
      free(buf);
      return NULL;
    }
    got += (size_t)n;
  }
  if (want < 4 || at[0] != 0xff || at[1] != 0xd8) {
    fail_job(j, "SLIDE_NOT_JPEG", "", "a stored tile is not JPEG data");
    free(buf);
    return NULL;
  }
  memcpy(buf, j->prefix, j->prefix_length); /* its SOI lands on the tile's own */
  *length = head + want;
  return buf;
}

/* Puts tile i's part of the region on the canvas: white, copied or decoded. */
static int compose_tile(job *j, uint32_t i) {
  int64_t tx = (int64_t)(i % j->across) * j->tile_width - j->left;
  int64_t ty = (int64_t)(i / j->across) * j->tile_height - j->top;
  int64_t x0 = tx > 0 ? tx : 0, y0 = ty > 0 ? ty : 0;
  int64_t x1 = tx + j->tile_width < j->width ? tx + j->tile_width : j->width;
  int64_t y1 = ty + j->tile_height < j->height ? ty + j->tile_height : j->height;
  if (x1 <= x0 || y1 <= y0) return 0;
  const tile_ref *t = &j->tiles[i];
  size_t stride = (size_t)j->width * 3, span = (size_t)(x1 - x0) * 3;
  if (t->sparse) {
    for (int64_t y = y0; y < y1; y++) memset(j->canvas + (size_t)y * stride + (size_t)x0 * 3, 255, span);
    return 0;
  }
  if (t->decoded) {
    size_t tstride = (size_t)j->tile_width * 3;
    for (int64_t y = y0; y < y1; y++) {
      const unsigned char *from = t->data + (size_t)(y - ty) * tstride + (size_t)(x0 - tx) * 3;
      memcpy(j->canvas + (size_t)y * stride + (size_t)x0 * 3, from, span);
    }
    return 0;
  }
  rect s = {(uint32_t)(x0 - tx), (uint32_t)(y0 - ty), (uint32_t)(x1 - x0), (uint32_t)(y1 - y0)};
  if (j->fd < 0) return decode_part(j, t, s, (uint32_t)x0, (uint32_t)y0);
  tile_ref whole = *t;
  unsigned char *stream = read_stored(j, t, &whole.length);
  if (!stream) return -1;
  whole.data = stream;
  int rc = decode_part(j, &whole, s, (uint32_t)x0, (uint32_t)y0);
  free(stream);
  return rc;
}

/* ---- encoding: into a buffer the job owns, so every path frees it once (in complete) ---- */

typedef struct {
  struct jpeg_destination_mgr pub;
  job *j;
} destination;

static void dest_init(j_compress_ptr c) {
  destination *d = (destination *)c->dest;
  job *j = d->j;
  j->jpeg_capacity = 64 * 1024;
  if (!(j->jpeg = malloc(j->jpeg_capacity))) ERREXIT1(c, JERR_OUT_OF_MEMORY, 10);
  d->pub.next_output_byte = j->jpeg;
  d->pub.free_in_buffer = j->jpeg_capacity;
}

static boolean dest_grow(j_compress_ptr c) {
  destination *d = (destination *)c->dest;
  job *j = d->j;
  unsigned char *bigger = realloc(j->jpeg, j->jpeg_capacity * 2);
  if (!bigger) ERREXIT1(c, JERR_OUT_OF_MEMORY, 11);
  j->jpeg = bigger;
  d->pub.next_output_byte = bigger + j->jpeg_capacity;
  d->pub.free_in_buffer = j->jpeg_capacity;
  j->jpeg_capacity *= 2;
  return TRUE;
}

static void dest_term(j_compress_ptr c) {
  destination *d = (destination *)c->dest;
  d->j->jpeg_size = d->j->jpeg_capacity - d->pub.free_in_buffer;
}

/* Encodes the canvas as a baseline JFIF JPEG, 4:2:0, like libvips' defaults. Errors longjmp. */
static void write_jpeg(job *j, j_compress_ptr c, destination *d) {
  d->pub.init_destination = dest_init;
  d->pub.empty_output_buffer = dest_grow;
  d->pub.term_destination = dest_term;
  d->j = j;
  c->dest = &d->pub;
  c->image_width = j->out_width;
  c->image_height = j->out_height;
  c->input_components = 3;
  c->in_color_space = JCS_RGB;
  jpeg_set_defaults(c);
  jpeg_set_quality(c, (int)j->quality, TRUE);
  jpeg_start_compress(c, TRUE);
  /* Sixteen rows a call (an iMCU row at 4:2:0): the compressor takes them without buffering each. */
  enum { ROWS = 16 };
  JSAMPROW rows[ROWS];
  size_t stride = (size_t)j->out_width * 3;
  while (c->next_scanline < c->image_height) {
    JDIMENSION n = c->image_height - c->next_scanline < ROWS ? c->image_height - c->next_scanline : ROWS;
    for (JDIMENSION r = 0; r < n; r++) rows[r] = j->out + (size_t)(c->next_scanline + r) * stride;
    if (jpeg_write_scanlines(c, rows, n) == 0) ERREXIT(c, JERR_BAD_LENGTH);
  }
  jpeg_finish_compress(c);
}

static int encode(job *j) {
  struct jpeg_compress_struct cinfo;
  destination dest;
  error_mgr err;
  volatile int rc = -1;
  memset(&cinfo, 0, sizeof cinfo);
  cinfo.err = error_manager(&err);
  if (setjmp(err.jump) == 0) {
    jpeg_create_compress(&cinfo);
    write_jpeg(j, &cinfo, &dest);
    rc = 0;
  } else {
    fail_job(j, "ENCODE_FAILED", "JPEG encode: ", err.message);
  }
  jpeg_destroy_compress(&cinfo);
  return rc;
}

/* ---- the job on the thread pool, and back on the JS thread ---- */

static bool resampled(const job *j) {
  return j->out_width != j->width || j->out_height != j->height;
}

/* The stored tiles of options.file are read one after the other, each as it is decoded: on a cold
 * disk each pread waited for the one before. Told of them all first, the kernel has their reads in
 * flight together (a hint: a tile already cached costs a page-cache lookup, and errors are pread's). */
static void prefetch_stored(const job *j) {
#ifdef POSIX_FADV_WILLNEED
  if (j->fd < 0 || j->count < 2) return;
  for (uint32_t i = 0; i < j->count; i++) {
    const tile_ref *t = &j->tiles[i];
    if (!t->sparse && !t->decoded && t->length > 0)
      (void)posix_fadvise(j->fd, (off_t)t->offset, (off_t)t->length, POSIX_FADV_WILLNEED);
  }
#endif
}

/* Decodes the region into the canvas: out itself, or (resampled) this thread's scratch canvas, released here. */
static void compose_and_resample(job *j) {
  prefetch_stored(j);
  j->canvas = resampled(j) ? scratch(SCRATCH_CANVAS, (size_t)j->width * j->height * 3) : j->out;
  if (!j->canvas) {
    fail_job(j, "OUT_OF_MEMORY", "", "out of memory");
    return;
  }
  uint32_t i = 0;
  while (i < j->count && compose_tile(j, i) == 0) i++;
  if (i == j->count && resampled(j) &&
      resample_rgb(j->canvas, j->width, j->height, j->out, j->out_width, j->out_height)) {
    fail_job(j, "OUT_OF_MEMORY", "", "out of memory");
  }
  if (j->canvas != j->out) release(SCRATCH_CANVAS, j->canvas); /* on this thread: the scratch is per thread */
  j->canvas = NULL;
}

static void execute(napi_env env, void *data) {
  job *j = data;
  if (j->own_out && !(j->out = scratch(SCRATCH_OUT, (size_t)j->out_width * j->out_height * 3))) {
    fail_job(j, "OUT_OF_MEMORY", "", "out of memory");
    return;
  }
  compose_and_resample(j);
  if (!j->error[0] && j->quality > 0) encode(j);
  /* An own canvas only feeds the encoder: back to this thread's scratch (the JPEG is j->jpeg). */
  if (j->own_out) release(SCRATCH_OUT, j->out);
  j->out = NULL;
  j->own_out = false;
}

static void free_job(napi_env env, job *j) {
  if (j->keep) napi_delete_reference(env, j->keep);
  if (j->callback) napi_delete_reference(env, j->callback);
  if (j->work) napi_delete_async_work(env, j->work);
  free(j->jpeg);
  free(j->tiles);
  free(j);
}

static void free_jpeg(napi_env env, void *data, void *hint) {
  napi_adjust_external_memory(env, -(int64_t)(uintptr_t)hint, NULL);
  free(data);
}

/* The encoded JPEG becomes the JS Buffer without a copy on the JS thread (the job's buffer, freed
 * when the Buffer is collected; its size told to V8 so collection keeps pace); copied where
 * external buffers are not allowed. */
static void hand_over_jpeg(napi_env env, job *j, napi_value *result) {
  size_t capacity = j->jpeg_capacity;
  if (napi_create_external_buffer(env, j->jpeg_size, j->jpeg, free_jpeg, (void *)(uintptr_t)capacity, result) ==
      napi_ok) {
    napi_adjust_external_memory(env, (int64_t)capacity, NULL);
    j->jpeg = NULL;
    return;
  }
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) {
    napi_value ignored;
    napi_get_and_clear_last_exception(env, &ignored);
  }
  if (napi_create_buffer_copy(env, j->jpeg_size, j->jpeg, NULL, result) != napi_ok) napi_get_undefined(env, result);
}

static void complete(napi_env env, napi_status status, void *data) {
  job *j = data;
  napi_value cb, undef, args[2];
  napi_get_reference_value(env, j->callback, &cb);
  napi_get_undefined(env, &undef);
  args[1] = undef;
  if (status != napi_ok || j->error[0]) {
    napi_value msg, code;
    napi_create_string_utf8(env, j->error[0] ? j->error : "render cancelled", NAPI_AUTO_LENGTH, &msg);
    napi_create_string_utf8(env, j->error_code ? j->error_code : "CANCELLED", NAPI_AUTO_LENGTH, &code);
    napi_create_error(env, code, msg, &args[0]);
  } else {
    napi_get_null(env, &args[0]);
    if (j->jpeg) hand_over_jpeg(env, j, &args[1]);
  }
  free_job(env, j);
  napi_call_function(env, undef, cb, 2, args, NULL);
}

/* ---- options: every value checked in range before use; a failed check throws and returns false ---- */

#define CHECK(env, call, what)                    \
  do {                                            \
    if ((call) != napi_ok) {                      \
      napi_throw_type_error((env), NULL, (what)); \
      return false;                               \
    }                                             \
  } while (0)

static bool throw_range(napi_env env, const char *format, ...) {
  char message[160];
  va_list args;
  va_start(args, format);
  vsnprintf(message, sizeof message, format, args);
  va_end(args);
  napi_throw_range_error(env, NULL, message);
  return false;
}

/* options[name] as an integer in [min, max]: NaN, fractions, infinities and out-of-range values are refused. */
static bool get_int(napi_env env, napi_value options, const char *name, int64_t min, int64_t max, int64_t *out) {
  napi_value v;
  double d;
  CHECK(env, napi_get_named_property(env, options, name, &v), name);
  if (napi_get_value_double(env, v, &d) != napi_ok) {
    bool pending;
    if (napi_is_exception_pending(env, &pending) == napi_ok && !pending) napi_throw_type_error(env, NULL, name);
    return false;
  }
  if (!(d >= (double)min && d <= (double)max) || d != (double)(int64_t)d) {
    return throw_range(env, "%s: an integer from %lld to %lld expected", name, (long long)min, (long long)max);
  }
  *out = (int64_t)d;
  return true;
}

static bool read_geometry(napi_env env, napi_value o, job *j, uint32_t count) {
  int64_t across, tw, th, width, height, quality, ow, oh;
  if (!get_int(env, o, "across", 1, count, &across) || !get_int(env, o, "tileWidth", 1, 65535, &tw) ||
      !get_int(env, o, "tileHeight", 1, 65535, &th) || !get_int(env, o, "width", 1, MAX_REGION_PIXELS, &width) ||
      !get_int(env, o, "height", 1, MAX_REGION_PIXELS, &height) || !get_int(env, o, "quality", 0, 100, &quality) ||
      !get_int(env, o, "outWidth", 1, MAX_REGION_PIXELS, &ow) || !get_int(env, o, "outHeight", 1, MAX_REGION_PIXELS, &oh)) {
    return false;
  }
  if (ow * oh > MAX_REGION_PIXELS) {
    return throw_range(env, "outWidth * outHeight: at most %lld", (long long)MAX_REGION_PIXELS);
  }
  /* Downscaling by more than the cap would take more taps than it is worth; upscaling at most 2x. */
  if (width > ow * MAX_RESAMPLE_RATIO || height > oh * MAX_RESAMPLE_RATIO || ow > 2 * width || oh > 2 * height) {
    return throw_range(env, "outWidth, outHeight: from 1/%d to 2 times width, height", MAX_RESAMPLE_RATIO);
  }
  if (tw * th > (int64_t)MAX_TILE_PIXELS) {
    return throw_range(env, "tileWidth * tileHeight: at most %lld", (long long)MAX_TILE_PIXELS);
  }
  if (width * height > MAX_REGION_PIXELS) {
    return throw_range(env, "width * height: at most %lld", (long long)MAX_REGION_PIXELS);
  }
  if (count % across != 0) return throw_range(env, "tiles: whole rows of `across` tiles expected");
  /* Both products stay below 2^45: no overflow, and left/top are compared without adding to them. */
  int64_t grid_width = across * tw, grid_height = (count / across) * th;
  if (width > grid_width || height > grid_height) {
    return throw_range(env, "the region must lie inside a full grid of tiles");
  }
  if (!get_int(env, o, "left", 0, grid_width - width, &j->left) ||
      !get_int(env, o, "top", 0, grid_height - height, &j->top)) {
    return false;
  }
  j->count = count;
  j->across = (uint32_t)across;
  j->tile_width = (uint32_t)tw;
  j->tile_height = (uint32_t)th;
  j->width = (uint32_t)width;
  j->height = (uint32_t)height;
  j->quality = (uint32_t)quality;
  j->out_width = (uint32_t)ow;
  j->out_height = (uint32_t)oh;
  return true;
}

/* A Buffer's bytes; the buffer goes into `keep` so it outlives the job. */
static bool get_buffer(napi_env env, napi_value v, napi_value keep, uint32_t *kept, void **data, size_t *length) {
  bool is_buffer;
  CHECK(env, napi_is_buffer(env, v, &is_buffer), "Buffer expected");
  if (!is_buffer) {
    napi_throw_type_error(env, NULL, "tiles and out: Buffer or null expected");
    return false;
  }
  CHECK(env, napi_get_buffer_info(env, v, data, length), "Buffer expected");
  CHECK(env, napi_set_element(env, keep, (*kept)++, v), "cannot keep a buffer");
  return true;
}

static bool read_tiles(napi_env env, napi_value tiles, napi_value keep, uint32_t *kept, job *j) {
  if (!(j->tiles = calloc(j->count, sizeof(tile_ref)))) {
    napi_throw_error(env, NULL, "out of memory");
    return false;
  }
  for (uint32_t i = 0; i < j->count; i++) {
    napi_value v;
    napi_valuetype type;
    void *data;
    CHECK(env, napi_get_element(env, tiles, i, &v), "tiles: element unreadable");
    CHECK(env, napi_typeof(env, v, &type), "tiles: element unreadable");
    if (type == napi_null) {
      j->tiles[i].sparse = true;
      continue;
    }
    if (!get_buffer(env, v, keep, kept, &data, &j->tiles[i].length)) return false;
    j->tiles[i].data = data;
  }
  return true;
}

static bool read_out(napi_env env, napi_value o, napi_value keep, uint32_t *kept, job *j) {
  napi_value v;
  napi_valuetype type;
  void *data;
  size_t length;
  CHECK(env, napi_get_named_property(env, o, "out", &v), "out");
  CHECK(env, napi_typeof(env, v, &type), "out");
  if (type == napi_null || type == napi_undefined) {
    if (j->quality == 0) {
      napi_throw_type_error(env, NULL, "out: a Buffer is needed unless a quality is given");
      return false;
    }
    j->own_out = true;
    return true;
  }
  if (!get_buffer(env, v, keep, kept, &data, &length)) return false;
  if (length < (size_t)j->out_width * j->out_height * 3) {
    return throw_range(env, "out: buffer smaller than outWidth*outHeight*3");
  }
  j->out = data;
  return true;
}

static bool read_decoded(napi_env env, napi_value o, job *j) {
  napi_value v;
  napi_valuetype type;
  bool is_typed;
  napi_typedarray_type ta_type;
  size_t length;
  void *data;
  CHECK(env, napi_get_named_property(env, o, "decoded", &v), "decoded");
  CHECK(env, napi_typeof(env, v, &type), "decoded");
  if (type == napi_null || type == napi_undefined) return true;
  if (j->fd >= 0) {
    napi_throw_type_error(env, NULL, "decoded: not with file (tiles read by the job are JPEG)");
    return false;
  }
  CHECK(env, napi_is_typedarray(env, v, &is_typed), "decoded: Uint8Array expected");
  if (!is_typed) {
    napi_throw_type_error(env, NULL, "decoded: Uint8Array expected");
    return false;
  }
  CHECK(env, napi_get_typedarray_info(env, v, &ta_type, &length, &data, NULL, NULL), "decoded: Uint8Array expected");
  if (ta_type != napi_uint8_array || length != j->count) return throw_range(env, "decoded: one flag per tile");
  size_t whole = (size_t)j->tile_width * j->tile_height * 3;
  for (uint32_t i = 0; i < j->count; i++) {
    if (!((uint8_t *)data)[i]) continue;
    if (j->tiles[i].sparse || j->tiles[i].length < whole) {
      return throw_range(env, "decoded: a decoded tile must hold tileWidth * tileHeight * 3 bytes");
    }
    j->tiles[i].decoded = true;
  }
  return true;
}

/* options.file's ranges: a Float64Array of (offset, length) pairs; *count its tiles. */
static bool file_ranges(napi_env env, napi_value file, double **pairs, uint32_t *count) {
  napi_value v;
  bool is_typed;
  napi_typedarray_type type;
  size_t length;
  void *data;
  CHECK(env, napi_get_named_property(env, file, "ranges", &v), "file.ranges: Float64Array expected");
  CHECK(env, napi_is_typedarray(env, v, &is_typed), "file.ranges: Float64Array expected");
  if (!is_typed) {
    napi_throw_type_error(env, NULL, "file.ranges: Float64Array expected");
    return false;
  }
  CHECK(env, napi_get_typedarray_info(env, v, &type, &length, &data, NULL, NULL), "file.ranges: Float64Array expected");
  if (type != napi_float64_array) {
    napi_throw_type_error(env, NULL, "file.ranges: Float64Array expected");
    return false;
  }
  if (length % 2 != 0 || length < 2 || length / 2 > MAX_TILES) {
    return throw_range(env, "file.ranges: 1 to %lld (offset, length) pairs expected", (long long)MAX_TILES);
  }
  *pairs = data;
  *count = (uint32_t)(length / 2);
  return true;
}

/* options.file's descriptor, prefix and each tile's place, checked: a length beyond what a tile of
 * the grid may take (four times its raw RGB plus 64 KiB, as the service checks) is refused. */
static bool read_file_tiles(napi_env env, napi_value file, const double *pairs, napi_value keep, uint32_t *kept, job *j) {
  int64_t fd;
  void *prefix;
  napi_value v;
  if (!get_int(env, file, "fd", 0, INT32_MAX, &fd)) return false;
  CHECK(env, napi_get_named_property(env, file, "prefix", &v), "file.prefix: Buffer expected");
  if (!get_buffer(env, v, keep, kept, &prefix, &j->prefix_length)) return false;
  const unsigned char *p = prefix;
  if (j->prefix_length < 2 || j->prefix_length > (1 << 20) || p[0] != 0xff || p[1] != 0xd8) {
    return throw_range(env, "file.prefix: a JPEG SOI and at most 1 MiB of segments expected");
  }
  if (!(j->tiles = calloc(j->count, sizeof(tile_ref)))) {
    napi_throw_error(env, NULL, "out of memory");
    return false;
  }
  double most = (double)j->tile_width * j->tile_height * 12 + 65536;
  for (uint32_t i = 0; i < j->count; i++) {
    double offset = pairs[2 * i], length = pairs[2 * i + 1];
    if (!(offset >= 0 && offset <= 9007199254740992.0 && offset == (double)(int64_t)offset) ||
        !(length >= 0 && length <= most && length == (double)(int64_t)length)) {
      return throw_range(env, "file.ranges: tile %u: offset or length out of range", i);
    }
    j->tiles[i].sparse = length == 0;
    j->tiles[i].offset = (int64_t)offset;
    j->tiles[i].length = (size_t)length;
  }
  j->prefix = prefix;
  j->fd = (int)fd;
  return true;
}

static bool read_options(napi_env env, napi_value o, job *j) {
  napi_value tiles, file = NULL, keep;
  napi_valuetype type;
  bool is_array;
  uint32_t count, kept = 0;
  double *pairs = NULL;
  CHECK(env, napi_get_named_property(env, o, "tiles", &tiles), "tiles: array expected");
  CHECK(env, napi_is_array(env, tiles, &is_array), "tiles: array expected");
  if (is_array) {
    CHECK(env, napi_get_array_length(env, tiles, &count), "tiles: array expected");
    if (count < 1 || count > MAX_TILES) return throw_range(env, "tiles: 1 to %lld expected", (long long)MAX_TILES);
  } else {
    CHECK(env, napi_get_named_property(env, o, "file", &file), "tiles: array expected");
    CHECK(env, napi_typeof(env, file, &type), "tiles: array expected");
    if (type != napi_object) {
      napi_throw_type_error(env, NULL, "tiles: array expected (or file: { fd, ranges, prefix })");
      return false;
    }
    if (!file_ranges(env, file, &pairs, &count)) return false;
  }
  CHECK(env, napi_create_array(env, &keep), "cannot keep the buffers");
  CHECK(env, napi_create_reference(env, keep, 1, &j->keep), "cannot keep the buffers");
  if (!read_geometry(env, o, j, count)) return false;
  bool got = pairs ? read_file_tiles(env, file, pairs, keep, &kept, j) : read_tiles(env, tiles, keep, &kept, j);
  return got && read_out(env, o, keep, &kept, j) && read_decoded(env, o, j);
}

static bool queue(napi_env env, napi_value callback, job *j) {
  napi_value name;
  napi_valuetype type;
  CHECK(env, napi_typeof(env, callback, &type), "callback: function expected");
  if (type != napi_function) {
    napi_throw_type_error(env, NULL, "callback: function expected");
    return false;
  }
  CHECK(env, napi_create_reference(env, callback, 1, &j->callback), "callback: cannot keep");
  CHECK(env, napi_create_string_utf8(env, "jpeg_region", NAPI_AUTO_LENGTH, &name), "cannot queue");
  CHECK(env, napi_create_async_work(env, NULL, name, execute, complete, j, &j->work), "cannot queue");
  CHECK(env, napi_queue_async_work(env, j->work), "cannot queue");
  return true;
}

static napi_value render_region(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_valuetype type;
  job *j = calloc(1, sizeof(job));
  if (!j) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  j->fd = -1;
  bool ok = napi_get_cb_info(env, info, &argc, argv, NULL, NULL) == napi_ok && argc >= 2 &&
            napi_typeof(env, argv[0], &type) == napi_ok && type == napi_object;
  if (!ok) napi_throw_type_error(env, NULL, "renderRegion(options, callback) expected");
  /* One cleanup path: a job that was not queued is freed here, a queued one in complete(). */
  if (!ok || !read_options(env, argv[0], j) || !queue(env, argv[1], j)) free_job(env, j);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn, version;
  napi_create_function(env, "renderRegion", NAPI_AUTO_LENGTH, render_region, NULL, &fn);
  napi_set_named_property(env, exports, "renderRegion", fn);
  napi_create_int32(env, LIBJPEG_TURBO_VERSION_NUMBER, &version);
  napi_set_named_property(env, exports, "libjpegTurboVersion", version);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
