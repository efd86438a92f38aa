/**
 * H&E-like texture tiles drawn at the slide's level-0 scale (~0.24 um/px: a lymphocyte nucleus is
 * ~7 um, ~28 px across). Each is seamless; libvips repeats it over the slide (composite with
 * `tile: true`), which costs nothing per repeat.
 */
import { Canvas, mix, periodicNoise, type Rgb } from './canvas.js';
import type { Rng } from './random.js';

export type TextureName = 'parenchyma' | 'metastasis' | 'grain';

export interface Texture {
  name: TextureName;
  size: number;
  /** Raw 8-bit RGB bytes, size x size. */
  rgb: Buffer;
}

export const TEXTURE_NAMES: readonly TextureName[] = ['parenchyma', 'metastasis', 'grain'];

const TILE = 1024;
const HAEMATOXYLIN: Rgb = [62, 36, 112];

/** Random position in the tile. */
const pos = (rng: Rng, size: number): [number, number] => [rng.range(0, size), rng.range(0, size)];

/** Multiplies in a faint mottling and fine grain so flat areas never look synthetic. */
function mottle(c: Canvas, rng: Rng, low: number, fine: number): void {
  const lowNoise = periodicNoise(c.size, 8, rng);
  const highNoise = periodicNoise(c.size, c.size / 4, rng);
  c.shade((x, y) => 1 - low * (lowNoise[y * c.size + x]! - 0.5) - fine * (highNoise[y * c.size + x]! - 0.5));
}

/** Densely packed small dark round nuclei (lymphocytes) on lilac stroma. */
function parenchyma(rng: Rng): Canvas {
  const c = new Canvas(TILE, [214, 176, 214]);
  mottle(c, rng, 0.1, 0.05);
  for (let k = 0; k < 1400; k++) {
    const [x, y] = pos(rng, TILE);
    const r = rng.range(9, 13);
    const colour = mix(HAEMATOXYLIN, [110, 70, 160], rng.range(0, 0.5));
    c.ellipse(x, y, r, r * rng.range(0.85, 1), rng.range(0, Math.PI), colour, rng.range(0.8, 0.95), 1.5);
  }
  for (let k = 0; k < 40; k++) {
    const [x, y] = pos(rng, TILE);
    c.ellipse(x, y, rng.range(15, 19), rng.range(11, 14), rng.range(0, Math.PI), [135, 95, 175], 0.85, 2);
  }
  mottle(c, rng, 0, 0.12);
  return c;
}

/** Large pale (vesicular) irregular nuclei with nucleoli in pink cytoplasm, in cohesive nests. */
function metastasis(rng: Rng): Canvas {
  const c = new Canvas(TILE, [226, 166, 206]);
  mottle(c, rng, 0.14, 0.05);
  for (let nest = 0; nest < 14; nest++) {
    const [nx, ny] = pos(rng, TILE);
    for (let k = 0; k < 22; k++) {
      const x = nx + rng.normal() * 70;
      const y = ny + rng.normal() * 70;
      const rx = rng.range(17, 27);
      const ry = rx * rng.range(0.65, 0.95);
      const a = rng.range(0, Math.PI);
      c.ellipse(x, y, rx, ry, a, [96, 52, 140], 0.9, 2);
      c.ellipse(x, y, rx * 0.78, ry * 0.72, a, [150, 105, 185], 0.7, 3);
      c.ellipse(x + rng.range(-4, 4), y + rng.range(-4, 4), 3.5, 3, 0, [70, 30, 100], 0.9, 1);
    }
  }
  mottle(c, rng, 0, 0.14);
  return c;
}

/**
 * Near-white speckle multiplied over the whole slide: the faint noise of glass and the grain of
 * stain in flat areas. Its odd size keeps its repeats out of step with the 1024 px tissue tiles.
 */
function grain(rng: Rng): Canvas {
  const size = 509;
  const c = new Canvas(size, [255, 255, 255]);
  const fine = Float32Array.from({ length: size * size }, () => rng.next());
  c.shade((x, y) => 0.985 - 0.02 * fine[y * size + x]!);
  return c;
}

const RECIPES: Record<TextureName, (rng: Rng) => Canvas> = { parenchyma, metastasis, grain };

/** Draws every tile for a seed (~0.5 s); shared by all slides of a run. */
export function makeTextures(rng: Rng): Map<TextureName, Texture> {
  const out = new Map<TextureName, Texture>();
  for (const name of TEXTURE_NAMES) {
    const canvas = RECIPES[name](rng.fork(name));
    out.set(name, { name, size: canvas.size, rgb: canvas.toBytes() });
  }
  return out;
}
