/**
 * The frame header (SOFn) of a JPEG stream: its size and components, read by walking the marker
 * segments before the first scan (pure: no I/O). What a decoder will allocate follows from it,
 * so a tile can be refused before any decoder sees it.
 */

export interface JpegFrame {
  width: number;
  height: number;
  components: number;
  progressive: boolean;
}

/** SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC), which share the range. */
const isFrame = (m: number) => m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;

/** The first frame header of `jpeg`, or null when there is none before the first scan or the end. */
export function jpegFrame(jpeg: Uint8Array): JpegFrame | null {
  if (jpeg.length < 4 || jpeg[0] !== 0xff || jpeg[1] !== 0xd8) return null;
  let o = 2;
  while (o + 4 <= jpeg.length) {
    if (jpeg[o] !== 0xff) return null;
    const marker = jpeg[o + 1]!;
    // Fill bytes (0xFF runs) may precede a marker.
    if (marker === 0xff) {
      o++;
      continue;
    }
    if (marker === 0xda || marker === 0xd9) return null;
    const length = (jpeg[o + 2]! << 8) | jpeg[o + 3]!;
    if (isFrame(marker)) {
      if (o + 10 > jpeg.length || length < 8) return null;
      return {
        height: (jpeg[o + 5]! << 8) | jpeg[o + 6]!,
        width: (jpeg[o + 7]! << 8) | jpeg[o + 8]!,
        components: jpeg[o + 9]!,
        progressive: marker === 0xc2 || marker === 0xc6 || marker === 0xca || marker === 0xce,
      };
    }
    if (length < 2) return null;
    o += 2 + length;
  }
  return null;
}

/** The native decoder's rule (native/jpeg-region): at most twice the tile size a side, at most 4096^2 px. */
export const MAX_TILE_FRAME_PIXELS = 4096 * 4096;

/** Whether a tile of a `tileWidth` x `tileHeight` grid may be handed to a decoder. */
export function frameFits(f: JpegFrame, tileWidth: number, tileHeight: number): boolean {
  return f.width <= 2 * tileWidth && f.height <= 2 * tileHeight && f.width * f.height <= MAX_TILE_FRAME_PIXELS;
}
