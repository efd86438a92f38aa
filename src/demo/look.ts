/** Colours of the flat classes, and the mean colours of the textured ones. */
import type { Rgb } from './canvas.js';
import type { ClassColours } from './svg.js';
import { CLASS } from './taxonomy.js';
import type { Texture, TextureName } from './textures.js';

/** Flat colours, a touch lighter than wanted: the grain tile darkens them ~2%. */
const FLAT: Record<number, Rgb> = {
  0: [248, 245, 247],
  [CLASS.adipose]: [252, 247, 250],
  [CLASS.connective]: [238, 178, 208],
};

const hex = (c: Rgb): string => `#${c.map((v) => Math.round(v).toString(16).padStart(2, '0')).join('')}`;

function meanColour(textures: ReadonlyMap<TextureName, Texture>, name: TextureName): Rgb {
  const t = textures.get(name);
  if (!t) throw new Error(`texture ${name} missing`);
  let [r, g, b] = [0, 0, 0];
  for (let i = 0; i + 2 < t.data.length; i += t.channels) {
    r += t.data[i]!;
    g += t.data[i + 1]!;
    b += t.data[i + 2]!;
  }
  const n = t.data.length / t.channels;
  return [r / n, g / n, b / n];
}

export function classColours(textures: ReadonlyMap<TextureName, Texture>): ClassColours {
  return {
    0: hex(FLAT[0]!),
    [CLASS.parenchyma]: hex(meanColour(textures, 'parenchyma')),
    [CLASS.metastasis]: hex(meanColour(textures, 'metastasis')),
    [CLASS.adipose]: hex(FLAT[CLASS.adipose]!),
    [CLASS.connective]: hex(FLAT[CLASS.connective]!),
  };
}
