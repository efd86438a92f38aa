/**
 * A slide's labels as GeoJSON in QuPath's flavour: one annotation Feature per class, its pixels
 * outlined exactly (src/grid/trace.ts) at a level of the label raster, in level-0 pixels, with
 * QuPath's `classification` (name and colour as [r, g, b]), so File > Import objects opens them.
 */
import { parseHexColor } from '../dataset/taxonomy.js';
import type { Generation } from '../generation.js';
import { levelSize } from '../labels/raster.js';
import type { LabelRaster } from '../labels/reader.js';
import { tracePolygons } from './trace.js';

/** Outlines are traced over a whole raster level in memory: the default keeps it under 16 MB. */
const MAX_OUTLINE_SIDE = 4096;

/** The finest raster level whose sides are at most MAX_OUTLINE_SIDE. */
export function defaultOutlineLevel(r: LabelRaster): number {
  for (let k = 0; k < r.levels; k++) {
    const { width, height } = levelSize(r, k);
    if (width <= MAX_OUTLINE_SIDE && height <= MAX_OUTLINE_SIDE) return k;
  }
  return r.levels - 1;
}

export function labelFeatures(g: Generation, r: LabelRaster, level: number): object {
  const { width, height } = levelSize(r, level);
  const values = g.labels.region(r, level, 0, 0, width, height);
  const present = new Set(values);
  const scale = r.downsample * 2 ** level;
  const features = g.taxonomy
    .filter((c) => c.value !== 0 && present.has(c.value))
    .map((c) => ({
      type: 'Feature',
      id: `${r.slideId}-${c.name}`,
      geometry: {
        type: 'MultiPolygon',
        coordinates: tracePolygons(values, width, height, c.value).map((poly) =>
          poly.map((ring) => ring.map(([x, y]) => [x * scale, y * scale])),
        ),
      },
      properties: {
        objectType: 'annotation',
        name: c.name,
        classification: { name: c.name, color: parseHexColor(c.color) },
        isLocked: false,
      },
    }));
  return { type: 'FeatureCollection', features };
}
