/**
 * Writes one slide's label files in the formats its layout calls for. Mask and vector files split
 * the scene at its first metastasis shape: the shapes before it go into the mask, the rest into
 * the vector file painted over it (the scene is ordered so that this split is exact).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { colourise, contextXml, labelMask, lesionXml, qupathGeoJson, type MaskRaster } from './labels.js';
import type { Scene } from './scene.js';
import type { LabelLayout } from './slides.js';
import { CLASS } from './taxonomy.js';

/** Shapes painted before the first metastasis shape, and the rest. */
export function splitAtMetastasis(scene: Scene): [before: Scene['shapes'], after: Scene['shapes']] {
  const k = scene.shapes.findIndex((s) => s.value === CLASS.metastasis);
  return k < 0 ? [scene.shapes, []] : [scene.shapes.slice(0, k), scene.shapes.slice(k)];
}

async function writePng(file: string, mask: MaskRaster, colour: boolean): Promise<void> {
  const raw = colour
    ? { data: colourise(mask), channels: 3 as const }
    : { data: Buffer.from(mask.values.buffer, mask.values.byteOffset, mask.values.length), channels: 1 as const };
  // Keep one channel for a label mask (sharp would otherwise write greyscale as RGB).
  await sharp(raw.data, { raw: { width: mask.width, height: mask.height, channels: raw.channels } })
    .toColourspace(colour ? 'srgb' : 'b-w')
    .png({ compressionLevel: 9, adaptiveFiltering: false, palette: false })
    .toFile(file);
}

export async function writeSlideLabels(root: string, scene: Scene, layout: LabelLayout): Promise<void> {
  const [before, after] = splitAtMetastasis(scene);
  switch (layout) {
    case 'mask+lesions':
      if (after.some((s) => s.value !== CLASS.metastasis))
        throw new Error(`${scene.id}: lesion XML can only hold metastasis`);
      await writePng(join(root, 'masks/labels', `${scene.id}_mask.png`), labelMask(scene, before), false);
      writeFileSync(join(root, 'annotations/lesions', `${scene.id}.xml`), lesionXml(after));
      return;
    case 'geojson':
      writeFileSync(join(root, 'annotations/geojson', `${scene.id}.geojson`), qupathGeoJson(scene));
      return;
    case 'colour+context':
      await writePng(join(root, 'masks/color', `${scene.id}_color.png`), labelMask(scene, before), true);
      writeFileSync(join(root, 'annotations/context-xml', `${scene.id}.xml`), contextXml(after));
      return;
  }
}
