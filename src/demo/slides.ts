/** The demo's slides: sizes, resolutions, tumour outlines, and which label formats describe them. */

/**
 * How a slide's labels are written, which also fixes the scene's painting order (labels are
 * painted source after source, and the scene must paint in the same order to agree with them):
 * - `mask+lesions`: label mask (tissue and artefacts) then Camelyon16 lesion XML (metastasis, with
 *   `_2` holes) painted last, so the scene paints metastasis after the artefacts;
 * - `geojson`: one QuPath GeoJSON with every class, in scene order;
 * - `colour+context`: colour mask (tissue) then an ASAP XML whose groups are taxonomy names
 *   (metastasis, artefacts). Such a file has no hole group, so each tumour hole is refilled by a
 *   lymph-node-parenchyma shape painted right after its tumour.
 */
export type LabelLayout = 'mask+lesions' | 'geojson' | 'colour+context';

export interface SlideSpec {
  id: string;
  /** Level-0 size in pixels. */
  width: number;
  height: number;
  /** Microns per pixel: 0.243 (Radboud) or 0.226 (Utrecht). */
  mpp: number;
  /** Camelyon16 outline file whose tumours are placed in this slide's lymph node. */
  polygonFile: string;
  layout: LabelLayout;
}

const DEFAULT_SLIDES: readonly SlideSpec[] = [
  { id: 'tumor_001', width: 36864, height: 20480, mpp: 0.243, polygonFile: 'Tumor_034.json', layout: 'mask+lesions' },
  { id: 'tumor_002', width: 16384, height: 12288, mpp: 0.226, polygonFile: 'Tumor_039.json', layout: 'geojson' },
  { id: 'tumor_003', width: 12288, height: 16384, mpp: 0.243, polygonFile: 'Tumor_091.json', layout: 'colour+context' },
];

/** Slide specs at a scale (1 = full size); the resolution (mpp) and hence the textures stay physical. */
export function slideSpecs(scale = 1): SlideSpec[] {
  if (!(scale > 0 && scale <= 2)) throw new Error(`demo scale must be in (0, 2], got ${scale}`);
  return DEFAULT_SLIDES.map((s) => ({
    ...s,
    width: Math.max(256, Math.round(s.width * scale)),
    height: Math.max(256, Math.round(s.height * scale)),
  }));
}
