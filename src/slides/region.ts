/**
 * Rendering a rectangle of a slide level: the one path every pixel read of a patch or a rendered
 * tile takes. Bounded by the render limiter, guarded per slide (a failing file is that slide's
 * 503), and padded with white glass where the rectangle leaves the level.
 */
import type { SlideRow } from '../catalogue/repo.js';
import type { Generation } from '../generation.js';
import type { Limiter } from '../http/limits.js';
import { renderRaw, type Crop, type RawImage, type RegionOutput } from '../imaging/sharp.js';
import type { SlideFile } from './file.js';
import type { SlidePool } from './pool.js';

export type Size = { width: number; height: number };

export interface RegionRenderer {
  /**
   * A rectangle of a slide level resized to `size`, encoded or raw RGB, in one pipeline; the
   * parts of the rectangle outside the level are white.
   */
  render(
    g: Generation,
    s: SlideRow,
    level: number,
    rect: Crop,
    size: Size,
    out: RegionOutput,
  ): Promise<Buffer | RawImage>;
}

export function createRegionRenderer(pool: SlidePool, limiter: Limiter): RegionRenderer {
  return {
    render: (g, s, level, rect, size, out) =>
      g.guardPixels(s.id, () => limiter.run(async () => renderPadded(await pool.open(g, s), level, rect, size, out))),
  };
}

/** The rectangle's part on the level (the caller's output pixels it maps to), or null when it is all off the level. */
export function onLevelPart(levelSize: Size, rect: Crop, size: Size): { source: Crop; target: Crop } | null {
  const x0 = Math.max(0, rect.left);
  const y0 = Math.max(0, rect.top);
  const x1 = Math.min(levelSize.width, rect.left + rect.width);
  const y1 = Math.min(levelSize.height, rect.top + rect.height);
  const sx = size.width / rect.width;
  const sy = size.height / rect.height;
  const left = Math.round((x0 - rect.left) * sx);
  const top = Math.round((y0 - rect.top) * sy);
  const width = Math.round((x1 - rect.left) * sx) - left;
  const height = Math.round((y1 - rect.top) * sy) - top;
  if (x1 <= x0 || y1 <= y0 || width <= 0 || height <= 0) return null;
  return { source: { left: x0, top: y0, width: x1 - x0, height: y1 - y0 }, target: { left, top, width, height } };
}

async function renderPadded(
  file: SlideFile,
  level: number,
  rect: Crop,
  size: Size,
  out: RegionOutput,
): Promise<Buffer | RawImage> {
  const l = file.levels[level]!;
  const inside =
    rect.left >= 0 && rect.top >= 0 && rect.left + rect.width <= l.width && rect.top + rect.height <= l.height;
  if (inside) return file.render(level, rect, size, out);
  // Part of the rectangle is off the slide: render the part on it, paste it on white glass.
  const canvas: RawImage = { data: Buffer.alloc(size.width * size.height * 3, 255), ...size, channels: 3 };
  const part = onLevelPart(l, rect, size);
  if (part) {
    const { source, target } = part;
    const inner = (await file.render(level, source, target, { kind: 'raw' })) as RawImage;
    for (let row = 0; row < inner.height; row++) {
      const to = ((target.top + row) * size.width + target.left) * 3;
      inner.data.copy(canvas.data, to, row * inner.width * 3, (row + 1) * inner.width * 3);
    }
  }
  return out.kind === 'raw' ? canvas : renderRaw(canvas, size, out);
}
