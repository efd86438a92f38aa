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
  channels: 3 | 4;
  /** Raw 8-bit RGB or RGBA bytes, size x size. */
  data: Buffer;
}

const TILE = 1024;
const HAEMATOXYLIN: Rgb = [62, 36, 112];

/** Random position in the tile. */
const pos = (rng: Rng, size: number): [number, number] => [rng.range(0, size), rng.range(0, size)];

/**
 * Multiplies in fine grain (a few pixels across). Nothing coarser: features the size of the tile
 * would repeat visibly at low zoom; large-scale variation comes from the overlay instead.
 */
function mottle(c: Canvas, rng: Rng, fine: number): void {
  const noise = periodicNoise(c.size, c.size / 4, rng);
  c.shade((x, y) => 1 - fine * (noise[y * c.size + x]! - 0.5));
}

/** Densely packed small dark round nuclei (lymphocytes) on lilac stroma. */
function parenchyma(rng: Rng): Canvas {
  const c = new Canvas(TILE, [206, 164, 208]);
  mottle(c, rng, 0.06);
  for (let k = 0; k < 1700; k++) {
    const [x, y] = pos(rng, TILE);
    const r = rng.range(9, 13);
    const colour = mix(HAEMATOXYLIN, [105, 66, 158], rng.range(0, 0.5));
    c.ellipse(x, y, r, r * rng.range(0.85, 1), rng.range(0, Math.PI), colour, rng.range(0.82, 0.95), 1.5);
  }
  for (let k = 0; k < 40; k++) {
    const [x, y] = pos(rng, TILE);
    c.ellipse(x, y, rng.range(15, 19), rng.range(11, 14), rng.range(0, Math.PI), [135, 95, 175], 0.85, 2);
  }
  mottle(c, rng, 0.12);
  return c;
}

/**
 * Sheets of tumour cells: large pale (vesicular) nuclei with a dark rim and a nucleolus, in pink
 * cytoplasm, one cell per jittered grid place so the sheet looks even at every zoom.
 */
function metastasis(rng: Rng): Canvas {
  const c = new Canvas(TILE, [228, 164, 206]);
  mottle(c, rng, 0.06);
  const step = 64;
  for (let gy = 0; gy < TILE / step; gy++) {
    for (let gx = 0; gx < TILE / step; gx++) {
      if (rng.next() < 0.12) continue;
      const x = (gx + 0.5 + rng.range(-0.3, 0.3)) * step;
      const y = (gy + 0.5 + rng.range(-0.3, 0.3)) * step;
      const rx = rng.range(16, 26);
      const ry = rx * rng.range(0.65, 0.95);
      const a = rng.range(0, Math.PI);
      c.ellipse(x, y, rx, ry, a, [92, 48, 136], 0.9, 2);
      c.ellipse(x, y, rx * 0.76, ry * 0.7, a, [158, 112, 190], 0.75, 3);
      c.ellipse(x + rng.range(-4, 4), y + rng.range(-4, 4), 3.5, 3, 0, [70, 30, 100], 0.9, 1);
    }
  }
  mottle(c, rng, 0.14);
  return c;
}

/** Side of the grain tile: odd, so its repeats stay out of step with the 1024 px tissue tiles. */
const GRAIN = 509;

/**
 * Speckle laid over the whole slide: the faint noise of glass and the grain of stain in flat
 * areas. Black at 0-3.5% opacity, i.e. multiplying by 0.965-1: an "over" blend costs libvips far
 * less than "multiply".
 */
function grain(rng: Rng): Buffer {
  const out = Buffer.alloc(GRAIN * GRAIN * 4);
  for (let i = 0; i < GRAIN * GRAIN; i++) out[i * 4 + 3] = Math.round(rng.next() * 9);
  return out;
}

const RECIPES: Record<'parenchyma' | 'metastasis', (rng: Rng) => Canvas> = { parenchyma, metastasis };

/** Draws every tile for a seed (~0.5 s); shared by all slides of a run. */
export function makeTextures(rng: Rng): Map<TextureName, Texture> {
  const out = new Map<TextureName, Texture>();
  for (const name of ['parenchyma', 'metastasis'] as const) {
    const canvas = RECIPES[name](rng.fork(name));
    out.set(name, { name, size: canvas.size, channels: 3, data: canvas.toBytes() });
  }
  out.set('grain', { name: 'grain', size: GRAIN, channels: 4, data: grain(rng.fork('grain')) });
  return out;
}
