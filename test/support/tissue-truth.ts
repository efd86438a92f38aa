/**
 * The tissue the demo generator drew, as a raster of a given geometry: a pixel is tissue when its
 * centre lies in a tissue shape (node, capsule, fat, stroma, tumour) and under no ink (the ink is
 * painted over the tissue and is not tissue); the scene is the truth the pixels were drawn from.
 */
import { rasterizeShapes } from '../../src/demo/rasterize.js';
import type { Scene } from '../../src/demo/scene.js';
import { CLASS } from '../../src/demo/taxonomy.js';

const TISSUE = new Set<number>([CLASS.metastasis, CLASS.parenchyma, CLASS.adipose, CLASS.connective]);

export function truthTissue(scene: Scene, width: number, height: number, downsample: number): Uint8Array {
  const shapes = [
    ...scene.shapes.filter((s) => TISSUE.has(s.value)).map((s) => ({ value: 1, rings: s.rings })),
    ...scene.shapes.filter((s) => s.value === CLASS.ink).map((s) => ({ value: 0, rings: s.rings })),
  ];
  return rasterizeShapes(shapes, width, height, downsample);
}

/** Dice coefficient of two binary masks (non-zero = in). */
export function dice(a: Uint8Array, b: Uint8Array): number {
  let both = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] !== 0;
    const y = b[i] !== 0;
    if (x) na++;
    if (y) nb++;
    if (x && y) both++;
  }
  return na + nb === 0 ? 1 : (2 * both) / (na + nb);
}
