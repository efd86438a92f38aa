/**
 * Thumbnails of slides in an object store: libvips cannot open an object, so the level is
 * rendered from its stored tiles through the region renderer (limiter, per-slide guard).
 */
import type { ImageFormat } from '../imaging/sharp.js';
import type { RegionRenderer } from '../slides/region.js';
import type { CatalogueDeps } from '../catalogue/routes.js';

export function thumbnailFromTiles(regions: RegionRenderer): NonNullable<CatalogueDeps['renderFromTiles']> {
  return async (g, s, level, maxSize, out: { kind: 'encoded'; format: ImageFormat; quality: number }) => {
    const l = g.catalogue.levels(s.id).find((x) => x.level === level)!;
    // Fitted inside maxSize without upscaling, as the libvips thumbnail of a file.
    const scale = Math.min(1, maxSize / l.width, maxSize / l.height);
    const size = { width: Math.max(1, Math.round(l.width * scale)), height: Math.max(1, Math.round(l.height * scale)) };
    const rect = { left: 0, top: 0, width: l.width, height: l.height };
    return (await regions.render(g, s, level, rect, size, out)) as Buffer;
  };
}
