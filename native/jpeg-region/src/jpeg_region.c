/*
 * Decodes the part of a region that each stored JPEG tile covers, and only that part, into one
 * RGB canvas, on the libuv thread pool. libjpeg-turbo's jpeg_crop_scanline() limits inverse DCT,
 * upsampling and colour conversion to the columns needed, jpeg_skip_scanlines() the rows above,
 * and the decode stops after the last row needed. A 256 px region over 512 px tiles touches 2.25
 * tiles on average: decoding them whole is ~9x the pixels served.
 *
 * Optionally the canvas is then encoded as JPEG in the same job (no second hop through libvips,
 * whose per-call set-up costs more than the encode of a 256 px tile).
 *
 * decodeRegion(holder, across, tileWidth, tileHeight, left, top, width, height, quality, decoded,
 *              callback)
 *   holder: [tile0, tile1, ..., out] where each tile is a complete JPEG (Buffer) or null (blank,
 *   white), laid out `across` per row; out is a Buffer of width*height*3 bytes, or null with a
 *   quality (the canvas is then the job's own, freed after the encode: no JS allocation). left/top:
 *   the region's origin relative to the first tile's. quality 0 leaves out raw; 1..100 encodes it
 *   (standard Huffman tables: ~5% larger than optimised ones, a third faster). decoded: null, or
 *   a Uint8Array with a flag per tile: 1 when that tile is given already decoded (RGB,
 *   tileWidth * tileHeight * 3 bytes: a cached tile, copied rather than decoded).
 *   callback(error | null, jpeg | undefined).
 */
#include <node_api.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include <jerror.h>

typedef struct {
  struct jpeg_error_mgr pub;
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
} error_mgr;

static void on_error(j_common_ptr c) {
  error_mgr *e = (error_mgr *)c->err;
  (*c->err->format_message)(c, e->message);
  longjmp(e->jump, 1);
}

/* Warnings are tolerated like libvips does with fail_on=error, except premature end of data. */
static void on_message(j_common_ptr c, int level) {
  if (level < 0 && c->err->msg_code == JWRN_JPEG_EOF) on_error(c);
}

typedef struct {
  const unsigned char *data;
  size_t length;
  bool sparse; /* null in the holder: never written, shown white */
  bool decoded; /* RGB pixels of the whole tile, not JPEG */
} tile_ref;

typedef struct {
  napi_async_work work;
  napi_ref holder;
  napi_ref callback;
  tile_ref *tiles;
  uint32_t count, across, tile_width, tile_height;
  int64_t left, top;
  uint32_t width, height;
  unsigned char *out;
  bool own_out; /* out was allocated here (no JS buffer given) */
  /* 1..100: encode the canvas as JPEG at this quality (into jpeg/jpeg_size); 0: leave it raw. */
  uint32_t quality;
  unsigned char *jpeg;
  unsigned long jpeg_size;
  char error[JMSG_LENGTH_MAX + 64];
} job;

/* Decodes tile rectangle (sx, sy, sw, sh) into out at (dx, dy). Returns 0, or -1 with job->error set. */
static int decode_part(job *j, const tile_ref *t, uint32_t sx, uint32_t sy, uint32_t sw, uint32_t sh, uint32_t dx, uint32_t dy) {
  struct jpeg_decompress_struct cinfo;
  error_mgr err;
  /* volatile: set after setjmp and freed after a longjmp back to it. */
  JSAMPROW volatile row = NULL;
  size_t stride = (size_t)j->width * 3;
  cinfo.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = on_error;
  err.pub.emit_message = on_message;
  err.message[0] = 0;
  jpeg_create_decompress(&cinfo);
  if (setjmp(err.jump)) {
    snprintf(j->error, sizeof j->error, "JPEG tile: %s", err.message);
    free((void *)row);
    jpeg_destroy_decompress(&cinfo);
    return -1;
  }
  if (t->length == 0) ERREXIT(&cinfo, JERR_INPUT_EMPTY);
  jpeg_mem_src(&cinfo, t->data, (unsigned long)t->length);
  jpeg_read_header(&cinfo, TRUE);
  if (cinfo.num_components != 3 && cinfo.num_components != 1) {
    snprintf(j->error, sizeof j->error, "JPEG tile: %d components (only grey and three-component tiles are read here)", cinfo.num_components);
    jpeg_destroy_decompress(&cinfo);
    return -1;
  }
  /* A stored tile is the TIFF's tile size; a stream claiming far more (a progressive one would
   * allocate all its coefficients up front) is refused before any allocation. */
  if (cinfo.image_width > 2 * j->tile_width || cinfo.image_height > 2 * j->tile_height) {
    snprintf(j->error, sizeof j->error, "JPEG tile: %ux%u, larger than the TIFF tile size", cinfo.image_width, cinfo.image_height);
    jpeg_destroy_decompress(&cinfo);
    return -1;
  }
  cinfo.out_color_space = JCS_RGB;
  jpeg_start_decompress(&cinfo);
  if (cinfo.output_width < sx + sw || cinfo.output_height < sy + sh) {
    snprintf(j->error, sizeof j->error, "JPEG tile: %ux%u, smaller than the TIFF tile size", cinfo.output_width, cinfo.output_height);
    jpeg_destroy_decompress(&cinfo);
    return -1;
  }
  /* Context each side: fancy (smooth) chroma upsampling replicates the edge of a crop, so a crop
   * edge next to a wanted column would differ from a whole-tile decode. The crop starts on an iMCU
   * boundary at or before want0; one iMCU of margin on the right covers the chroma sample after. */
  JDIMENSION margin = (JDIMENSION)cinfo.max_h_samp_factor * DCTSIZE;
  JDIMENSION want0 = sx > 0 ? sx - 1 : 0;
  JDIMENSION want1 = sx + sw + margin < cinfo.output_width ? sx + sw + margin : cinfo.output_width;
  JDIMENSION xoff = want0, cw = want1 - want0;
  if (want0 > 0 || want1 < cinfo.output_width) jpeg_crop_scanline(&cinfo, &xoff, &cw);
  row = malloc((size_t)cinfo.output_width * 3);
  if (!row) {
    snprintf(j->error, sizeof j->error, "out of memory");
    jpeg_destroy_decompress(&cinfo);
    return -1;
  }
  if (sy > 0 && jpeg_skip_scanlines(&cinfo, sy) != sy) ERREXIT(&cinfo, JERR_BAD_LENGTH);
  JSAMPROW line = row;
  for (uint32_t y = 0; y < sh; y++) {
    if (jpeg_read_scanlines(&cinfo, &line, 1) != 1) ERREXIT(&cinfo, JERR_BAD_LENGTH);
    memcpy(j->out + (size_t)(dy + y) * stride + (size_t)dx * 3, line + (size_t)(sx - xoff) * 3, (size_t)sw * 3);
  }
  free((void *)row);
  /* The rows below the region are never decoded. */
  jpeg_abort_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return 0;
}

/* Encodes the canvas as a baseline JFIF JPEG, 4:2:0, like libvips' defaults. */
static int encode(job *j) {
  struct jpeg_compress_struct cinfo;
  error_mgr err;
  cinfo.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = on_error;
  err.message[0] = 0;
  jpeg_create_compress(&cinfo);
  if (setjmp(err.jump)) {
    snprintf(j->error, sizeof j->error, "JPEG encode: %s", err.message);
    jpeg_destroy_compress(&cinfo);
    free(j->jpeg);
    j->jpeg = NULL;
    return -1;
  }
  jpeg_mem_dest(&cinfo, &j->jpeg, &j->jpeg_size);
  cinfo.image_width = j->width;
  cinfo.image_height = j->height;
  cinfo.input_components = 3;
  cinfo.in_color_space = JCS_RGB;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, (int)j->quality, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  size_t stride = (size_t)j->width * 3;
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = j->out + (size_t)cinfo.next_scanline * stride;
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  return 0;
}

static void execute(napi_env env, void *data) {
  job *j = data;
  size_t stride = (size_t)j->width * 3;
  if (j->own_out && !(j->out = malloc(stride * j->height))) {
    snprintf(j->error, sizeof j->error, "out of memory");
    return;
  }
  for (uint32_t i = 0; i < j->count; i++) {
    int64_t tx = (int64_t)(i % j->across) * j->tile_width - j->left;
    int64_t ty = (int64_t)(i / j->across) * j->tile_height - j->top;
    int64_t x0 = tx > 0 ? tx : 0, y0 = ty > 0 ? ty : 0;
    int64_t x1 = tx + j->tile_width < j->width ? tx + j->tile_width : j->width;
    int64_t y1 = ty + j->tile_height < j->height ? ty + j->tile_height : j->height;
    if (x1 <= x0 || y1 <= y0) continue;
    const tile_ref *t = &j->tiles[i];
    if (t->sparse) {
      for (int64_t y = y0; y < y1; y++) memset(j->out + (size_t)y * stride + (size_t)x0 * 3, 255, (size_t)(x1 - x0) * 3);
      continue;
    }
    if (t->decoded) {
      size_t tstride = (size_t)j->tile_width * 3;
      for (int64_t y = y0; y < y1; y++) memcpy(j->out + (size_t)y * stride + (size_t)x0 * 3, t->data + (size_t)(y - ty) * tstride + (size_t)(x0 - tx) * 3, (size_t)(x1 - x0) * 3);
      continue;
    }
    if (decode_part(j, t, (uint32_t)(x0 - tx), (uint32_t)(y0 - ty), (uint32_t)(x1 - x0), (uint32_t)(y1 - y0), (uint32_t)x0, (uint32_t)y0)) return;
  }
  if (j->quality > 0) encode(j);
}

static void complete(napi_env env, napi_status status, void *data) {
  job *j = data;
  napi_value cb, undef, args[2];
  napi_get_reference_value(env, j->callback, &cb);
  napi_get_undefined(env, &undef);
  args[1] = undef;
  if (status != napi_ok || j->error[0]) {
    napi_value msg;
    napi_create_string_utf8(env, j->error[0] ? j->error : "decode cancelled", NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &args[0]);
  } else {
    napi_get_null(env, &args[0]);
    if (j->jpeg && napi_create_buffer_copy(env, j->jpeg_size, j->jpeg, NULL, &args[1]) != napi_ok) args[1] = undef;
  }
  free(j->jpeg);
  if (j->own_out) free(j->out);
  napi_delete_reference(env, j->holder);
  napi_delete_reference(env, j->callback);
  napi_delete_async_work(env, j->work);
  free(j->tiles);
  free(j);
  napi_call_function(env, undef, cb, 2, args, NULL);
}

#define CHECK(call, what)                                   \
  if ((call) != napi_ok) {                                  \
    napi_throw_type_error(env, NULL, what);                 \
    goto fail;                                              \
  }

static napi_value decode_region(napi_env env, napi_callback_info info) {
  size_t argc = 11;
  napi_value argv[11], name;
  job *j = calloc(1, sizeof(job));
  if (!j) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL), "bad call");
  if (argc < 11) {
    napi_throw_type_error(env, NULL, "decodeRegion needs 11 arguments");
    goto fail;
  }
  uint32_t length;
  bool is_array;
  CHECK(napi_is_array(env, argv[0], &is_array), "holder: array expected");
  if (!is_array) {
    napi_throw_type_error(env, NULL, "holder: array expected");
    goto fail;
  }
  CHECK(napi_get_array_length(env, argv[0], &length), "holder: array expected");
  if (length < 2) {
    napi_throw_range_error(env, NULL, "holder: tiles and an output buffer expected");
    goto fail;
  }
  int64_t left, top;
  CHECK(napi_get_value_uint32(env, argv[1], &j->across), "across: integer expected");
  CHECK(napi_get_value_uint32(env, argv[2], &j->tile_width), "tileWidth: integer expected");
  CHECK(napi_get_value_uint32(env, argv[3], &j->tile_height), "tileHeight: integer expected");
  CHECK(napi_get_value_int64(env, argv[4], &left), "left: integer expected");
  CHECK(napi_get_value_int64(env, argv[5], &top), "top: integer expected");
  CHECK(napi_get_value_uint32(env, argv[6], &j->width), "width: integer expected");
  CHECK(napi_get_value_uint32(env, argv[7], &j->height), "height: integer expected");
  CHECK(napi_get_value_uint32(env, argv[8], &j->quality), "quality: integer expected");
  if (j->quality > 100) {
    napi_throw_range_error(env, NULL, "quality: 0 (raw) or 1..100");
    goto fail;
  }
  j->left = left;
  j->top = top;
  j->count = length - 1;
  if (j->across == 0 || j->tile_width == 0 || j->tile_height == 0 || j->width == 0 || j->height == 0) {
    napi_throw_range_error(env, NULL, "sizes must be positive");
    goto fail;
  }
  /* The tiles must cover the region: no byte of out may be left unwritten. */
  uint32_t rows = (j->count + j->across - 1) / j->across;
  if (j->count % j->across != 0 || left < 0 || top < 0 || left + j->width > (int64_t)j->across * j->tile_width ||
      top + j->height > (int64_t)rows * j->tile_height) {
    napi_throw_range_error(env, NULL, "the region must lie inside a full grid of tiles");
    goto fail;
  }
  j->tiles = calloc(j->count, sizeof(tile_ref));
  if (!j->tiles) {
    napi_throw_error(env, NULL, "out of memory");
    goto fail;
  }
  for (uint32_t i = 0; i <= j->count; i++) {
    napi_value v;
    napi_valuetype type;
    bool is_buffer;
    void *ptr;
    size_t len;
    CHECK(napi_get_element(env, argv[0], i, &v), "holder: element unreadable");
    CHECK(napi_typeof(env, v, &type), "holder: element unreadable");
    if (i < j->count && type == napi_null) {
      j->tiles[i].sparse = true;
      continue;
    }
    if (i == j->count && type == napi_null) {
      if (j->quality == 0) {
        napi_throw_type_error(env, NULL, "out: a Buffer is needed unless a quality is given");
        goto fail;
      }
      j->own_out = true;
      continue;
    }
    CHECK(napi_is_buffer(env, v, &is_buffer), "holder: Buffer expected");
    if (!is_buffer) {
      napi_throw_type_error(env, NULL, "holder: Buffer or null expected");
      goto fail;
    }
    CHECK(napi_get_buffer_info(env, v, &ptr, &len), "holder: Buffer expected");
    if (i < j->count) {
      j->tiles[i].data = ptr;
      j->tiles[i].length = len;
    } else {
      if (len < (size_t)j->width * j->height * 3) {
        napi_throw_range_error(env, NULL, "out: buffer smaller than width*height*3");
        goto fail;
      }
      j->out = ptr;
    }
  }
  napi_valuetype flags_type;
  CHECK(napi_typeof(env, argv[9], &flags_type), "decoded: Uint8Array or null expected");
  if (flags_type != napi_null && flags_type != napi_undefined) {
    bool is_typed;
    napi_typedarray_type ta_type;
    size_t ta_length;
    void *ta_data;
    CHECK(napi_is_typedarray(env, argv[9], &is_typed), "decoded: Uint8Array expected");
    if (!is_typed) {
      napi_throw_type_error(env, NULL, "decoded: Uint8Array expected");
      goto fail;
    }
    CHECK(napi_get_typedarray_info(env, argv[9], &ta_type, &ta_length, &ta_data, NULL, NULL), "decoded: Uint8Array expected");
    if (ta_type != napi_uint8_array || ta_length != j->count) {
      napi_throw_range_error(env, NULL, "decoded: one flag per tile");
      goto fail;
    }
    for (uint32_t i = 0; i < j->count; i++) {
      if (!((uint8_t *)ta_data)[i]) continue;
      if (j->tiles[i].sparse || j->tiles[i].length < (size_t)j->tile_width * j->tile_height * 3) {
        napi_throw_range_error(env, NULL, "decoded: a decoded tile must hold tileWidth * tileHeight * 3 bytes");
        goto fail;
      }
      j->tiles[i].decoded = true;
    }
  }
  CHECK(napi_create_reference(env, argv[0], 1, &j->holder), "holder: cannot keep");
  CHECK(napi_create_reference(env, argv[10], 1, &j->callback), "callback: function expected");
  napi_create_string_utf8(env, "jpeg_region", NAPI_AUTO_LENGTH, &name);
  CHECK(napi_create_async_work(env, NULL, name, execute, complete, j, &j->work), "cannot queue");
  CHECK(napi_queue_async_work(env, j->work), "cannot queue");
  return NULL;
fail:
  if (j->holder) napi_delete_reference(env, j->holder);
  if (j->callback) napi_delete_reference(env, j->callback);
  free(j->tiles);
  free(j);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn, version;
  napi_create_function(env, "decodeRegion", NAPI_AUTO_LENGTH, decode_region, NULL, &fn);
  napi_set_named_property(env, exports, "decodeRegion", fn);
  napi_create_int32(env, LIBJPEG_TURBO_VERSION_NUMBER, &version);
  napi_set_named_property(env, exports, "libjpegTurboVersion", version);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
