/**
 * The tissue as a mask layer (`layer=tissue`): 1 = tissue, 0 = glass or ink, resampled
 * nearest-neighbour from the tissue raster exactly as label masks are from the label raster.
 */
import type { SlideRow } from '../catalogue/repo.js';
import type { Generation } from '../generation.js';
import { labelResampling, resampleLabels } from '../masks/resample.js';

/** Colour of tissue in overlays (a green no class of the default taxonomy uses). */
export const TISSUE_COLOR: [number, number, number] = [0, 170, 90];

/**
 * Tissue values of an output grid of outW x outH pixels whose top-left pixel starts at level-0
 * (l0X, l0Y), each l0PerPixel wide (l0PerPixelY high); a 409 naming `field` when the slide has none.
 */
export function tissueMask(
  g: Generation,
  s: SlideRow,
  field: string,
  l0X: number,
  l0Y: number,
  l0PerPixel: number,
  outW: number,
  outH: number,
  l0PerPixelY = l0PerPixel,
): Uint8Array {
  const raster = g.tissue.require(s, field);
  const sampling = labelResampling(raster, l0X, l0Y, l0PerPixel, outW, outH, l0PerPixelY);
  const region = g.tissue.reader.region(
    raster,
    sampling.level,
    sampling.x,
    sampling.y,
    sampling.width,
    sampling.height,
  );
  const values = resampleLabels(region, sampling);
  for (let i = 0; i < values.length; i++) values[i] = values[i] === 0 ? 0 : 1;
  return values;
}

/** Overlay palette of the tissue layer: value 1 in TISSUE_COLOR at `opacity`, 0 transparent. */
export function tissuePalette(opacity: number): Uint8Array {
  const rgba = new Uint8Array(256 * 4);
  rgba.set([...TISSUE_COLOR, Math.round(Math.min(1, Math.max(0, opacity)) * 255)], 4);
  return rgba;
}
