/**
 * The low-resolution "look" of a slide's tissue: one RGBA pixel per 8x8 level-0 pixels, from the
 * tissue shapes (artefacts are drawn over it later). Flat classes carry their colour; pixels
 * where a textured class shows are transparent, and the texture tile fills them in (composite
 * dest-over), so the upscaled map selects the texture with soft, natural boundaries.
 */
import type { Rgb } from './canvas.js';
import { rasterizeShapes } from './rasterize.js';
import type { Scene } from './scene.js';
import type { ClassColours } from './svg.js';
import { CLASS } from './taxonomy.js';
import type { Texture, TextureName } from './textures.js';

export const LOOK_DOWNSAMPLE = 8;

/** Flat colours, a touch lighter than wanted: the grain tile multiplies them down ~2%. */
const FLAT: Record<number, Rgb> = {
  0: [248, 245, 247],
  [CLASS.metastasis]: [226, 166, 206],
  [CLASS.adipose]: [252, 247, 250],
  [CLASS.connective]: [238, 178, 208],
};

const TISSUE = new Set<number>([CLASS.metastasis, CLASS.parenchyma, CLASS.adipose, CLASS.connective]);

export interface LookRaster {
  rgba: Buffer;
  width: number;
  height: number;
}

export function lookRaster(scene: Scene): LookRaster {
  const d = LOOK_DOWNSAMPLE;
  const width = Math.ceil(scene.width / d);
  const height = Math.ceil(scene.height / d);
  const labels = rasterizeShapes(scene.shapes.filter((s) => TISSUE.has(s.value)), width, height, d);
  const rgba = Buffer.alloc(width * height * 4);
  labels.forEach((v, i) => {
    if (v === CLASS.parenchyma) return; // transparent: the parenchyma texture shows here
    const c = FLAT[v] ?? FLAT[0]!;
    rgba[i * 4] = c[0];
    rgba[i * 4 + 1] = c[1];
    rgba[i * 4 + 2] = c[2];
    rgba[i * 4 + 3] = 255;
  });
  return { rgba, width, height };
}

/** Mean rendered colour per tissue class (the blur artefact washes toward it). */
export function classColours(textures: ReadonlyMap<TextureName, Texture>): ClassColours {
  const hex = (c: Rgb): string => `#${c.map((v) => Math.round(v).toString(16).padStart(2, '0')).join('')}`;
  const mean = (name: TextureName): Rgb => {
    const t = textures.get(name);
    if (!t) throw new Error(`texture ${name} missing`);
    let [r, g, b] = [0, 0, 0];
    for (let i = 0; i + 2 < t.rgb.length; i += 3) {
      r += t.rgb[i]!;
      g += t.rgb[i + 1]!;
      b += t.rgb[i + 2]!;
    }
    const n = t.rgb.length / 3;
    return [r / n, g / n, b / n];
  };
  return {
    [CLASS.parenchyma]: hex(mean('parenchyma')),
    [CLASS.metastasis]: hex(mean('metastasis')),
    [CLASS.adipose]: hex(FLAT[CLASS.adipose]!),
    [CLASS.connective]: hex(FLAT[CLASS.connective]!),
  };
}
