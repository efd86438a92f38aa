/* Separable Lanczos-3 resampling of RGB canvases (see resample.c). */
#ifndef JPEG_REGION_RESAMPLE_H
#define JPEG_REGION_RESAMPLE_H
#include <stddef.h>
#include <stdint.h>

/* The largest input/output ratio per axis resampled here: it bounds the filter's taps (6 per unit of
 * ratio) to 24, which keeps the 16-bit sums' truncation errors under half a grey level (resample.c).
 * Larger ratios (beyond the coarsest level) are left to libvips. */
#define MAX_RESAMPLE_RATIO 4

/* Resizes `in` (iw x ih, RGB) to `out` (ow x oh, RGB). 0 on success, -1 when memory runs out. */
int resample_rgb(const unsigned char *in, uint32_t iw, uint32_t ih, unsigned char *out, uint32_t ow, uint32_t oh);

/* Scratch memory kept per thread (the libuv pool's few threads), one buffer a slot, up to 8 MiB each:
 * a fresh malloc of a few hundred KiB is a fresh mmap, whose page faults cost as much as filtering.
 * Larger requests are malloc'd; release() frees what scratch() did not keep. */
enum { SCRATCH_RESAMPLE, SCRATCH_CANVAS, SCRATCH_OUT, SCRATCH_TILE, SCRATCH_SLOTS };
unsigned char *scratch(int slot, size_t size);
void release(int slot, unsigned char *p);

#endif
