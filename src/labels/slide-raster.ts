/** Where a slide's label raster is, from its catalogue row. */
import type { SlideRow } from '../catalogue/repo.js';
import { LABEL_TILE_SIZE } from './raster.js';
import type { LabelRaster } from './reader.js';

/** The slide's label raster, or null when it has no labels (its mask is all unlabelled). */
export function labelRaster(s: SlideRow): LabelRaster | null {
  if (s.label_downsample === null || s.label_width === null || s.label_height === null || s.label_levels === null) {
    return null;
  }
  return {
    slideId: s.id,
    etag: s.etag,
    downsample: s.label_downsample,
    width: s.label_width,
    height: s.label_height,
    tileSize: LABEL_TILE_SIZE,
    levels: s.label_levels,
  };
}
