/**
 * Writes a slide's pixels straight into a Camelyon16-style pyramidal BigTIFF in one libvips
 * pipeline, streaming region by region (no full-resolution buffer ever exists in JS; tumor_001 is
 * ~750 megapixels):
 *   parenchyma texture tile, repeated over the slide
 *   -> metastasis mask SVG, then its texture   (dest-out cuts the tumours out, dest-over fills them)
 *   -> blur mask SVG, then a blurred patch     (the same, with a blurred copy of the texture)
 *   -> overlay SVG: glass, fat, connective tissue, their detail, artefacts; transparent where
 *      parenchyma or metastasis shows
 *   -> grain tile over everything              (glass noise, stain grain)
 * Texture tiles cost libvips nothing per repeat; SVGs hold only flat fills, gradients and strokes.
 */
import sharp, { type Blend, type OverlayOptions, type Sharp, type TiffOptions } from 'sharp';
import { ringBounds } from './geometry.js';
import { classColours } from './look.js';
import type { Scene } from './scene.js';
import { blurMaskSvg, metastasisMaskSvg, overlaySvg, type Piece } from './svg.js';
import { CLASS } from './taxonomy.js';
import type { Texture, TextureName } from './textures.js';

/**
 * librsvg renders at most 32767 px a side, and one SVG renders on one thread at a time, so the
 * SVG layers come in pieces: at least two columns, to keep both cores busy.
 */
const MAX_PIECE = 32767;
const MIN_PIECES = 2;
/** Out-of-focus blur, in level-0 pixels (~1.2 um). */
const BLUR_SIGMA = 5;

export function slidePieces(width: number, height: number): Piece[] {
  const cols = Math.max(MIN_PIECES, Math.ceil(width / MAX_PIECE));
  const rows = Math.ceil(height / MAX_PIECE);
  const [w, h] = [Math.ceil(width / cols), Math.ceil(height / rows)];
  const pieces: Piece[] = [];
  for (let top = 0; top < height; top += h) {
    for (let left = 0; left < width; left += w)
      pieces.push({ left, top, width: Math.min(w, width - left), height: Math.min(h, height - top) });
  }
  return pieces;
}

/**
 * The exact TIFF layout of a Camelyon16 slide (as written by ASAP): BigTIFF, 512 px JPEG tiles
 * at quality 70, a pyramid of top-level IFDs, resolution in pixels per cm. sharp takes xres in
 * pixels per mm, so 1000 / mpp.
 */
export function camelyonTiffOptions(mpp: number): TiffOptions {
  const pxPerMm = 1000 / mpp;
  return {
    tile: true,
    tileWidth: 512,
    tileHeight: 512,
    pyramid: true,
    bigtiff: true,
    compression: 'jpeg',
    quality: 70,
    xres: pxPerMm,
    yres: pxPerMm,
    resolutionUnit: 'cm',
  };
}

function texture(textures: ReadonlyMap<TextureName, Texture>, name: TextureName): Texture {
  const t = textures.get(name);
  if (!t) throw new Error(`texture ${name} missing`);
  return t;
}

/** A texture repeated over the slide; cropped first when the slide is smaller than the tile. */
function tileLayer(t: Texture, blend: Blend, scene: Scene): OverlayOptions {
  const [w, h] = [Math.min(t.size, scene.width), Math.min(t.size, scene.height)];
  const row = t.size * t.channels;
  const data =
    w === t.size && h === t.size
      ? t.data
      : Buffer.concat(Array.from({ length: h }, (_, y) => t.data.subarray(y * row, y * row + w * t.channels)));
  return { input: data, raw: { width: w, height: h, channels: t.channels }, tile: true, blend };
}

function svgLayers(svgs: string[], pieces: Piece[], blend: Blend): OverlayOptions[] {
  return svgs.map((svg, k) => ({
    input: Buffer.from(svg),
    left: pieces[k]!.left,
    top: pieces[k]!.top,
    blend,
    unlimited: true,
    limitInputPixels: false,
  }));
}

/** Box of the shapes of one class, grown by `pad` and kept on the slide; null when none. */
function classBox(scene: Scene, value: number, pad: number): Piece | null {
  const boxes = scene.shapes.filter((s) => s.value === value).map((s) => ringBounds(s.rings[0]!));
  if (boxes.length === 0) return null;
  const left = Math.max(0, Math.floor(Math.min(...boxes.map((b) => b[0]))) - pad);
  const top = Math.max(0, Math.floor(Math.min(...boxes.map((b) => b[1]))) - pad);
  const right = Math.min(scene.width, Math.ceil(Math.max(...boxes.map((b) => b[2]))) + pad);
  const bottom = Math.min(scene.height, Math.ceil(Math.max(...boxes.map((b) => b[3]))) + pad);
  return { left, top, width: right - left, height: bottom - top };
}

/** The pieces cut down to a box: small layers render and composite faster. */
function clipPieces(pieces: Piece[], box: Piece): Piece[] {
  return pieces.flatMap((p) => {
    const left = Math.max(p.left, box.left);
    const top = Math.max(p.top, box.top);
    const right = Math.min(p.left + p.width, box.left + box.width);
    const bottom = Math.min(p.top + p.height, box.top + box.height);
    return right > left && bottom > top ? [{ left, top, width: right - left, height: bottom - top }] : [];
  });
}

function tumourLayers(scene: Scene, pieces: Piece[], textures: ReadonlyMap<TextureName, Texture>): OverlayOptions[] {
  const box = classBox(scene, CLASS.metastasis, 2);
  if (!box) return [];
  const parts = clipPieces(pieces, box);
  return [
    ...svgLayers(
      parts.map((p) => metastasisMaskSvg(scene, p)),
      parts,
      'dest-out',
    ),
    tileLayer(texture(textures, 'metastasis'), 'dest-over', scene),
  ];
}

/** The parenchyma texture over the blur box, in step with the repeated tile, blurred. */
async function blurLayers(
  scene: Scene,
  pieces: Piece[],
  textures: ReadonlyMap<TextureName, Texture>,
): Promise<OverlayOptions[]> {
  const box = classBox(scene, CLASS.blur, 4 * BLUR_SIGMA);
  if (!box) return [];
  const t = texture(textures, 'parenchyma');
  const rolled = rollTile(t, box.left % t.size, box.top % t.size);
  const raw = { width: t.size, height: t.size, channels: t.channels };
  const patch = await sharp(rolled, { raw })
    .extract({ left: 0, top: 0, width: Math.min(box.width, t.size), height: Math.min(box.height, t.size) })
    .extend({ right: Math.max(0, box.width - t.size), bottom: Math.max(0, box.height - t.size), extendWith: 'repeat' })
    .blur(BLUR_SIGMA)
    .raw()
    .toBuffer();
  const parts = clipPieces(pieces, box);
  return [
    ...svgLayers(
      parts.map((p) => blurMaskSvg(scene, p)),
      parts,
      'dest-out',
    ),
    {
      input: patch,
      raw: { width: box.width, height: box.height, channels: t.channels },
      left: box.left,
      top: box.top,
      blend: 'dest-over',
    },
  ];
}

/** The tile shifted so that its pixel (dx, dy) comes first: a patch cut at (dx, dy) mod size. */
function rollTile(t: Texture, dx: number, dy: number): Buffer {
  const out = Buffer.alloc(t.data.length);
  const row = t.size * t.channels;
  for (let y = 0; y < t.size; y++) {
    const src = ((y + dy) % t.size) * row;
    const split = dx * t.channels;
    t.data.copy(out, y * row, src + split, src + row);
    t.data.copy(out, y * row + row - split, src, src + split);
  }
  return out;
}

/** The whole slide as one lazy sharp pipeline ending in the TIFF writer: call toFile on it. */
export async function slidePipeline(
  scene: Scene,
  textures: ReadonlyMap<TextureName, Texture>,
  seed: number,
): Promise<Sharp> {
  const pieces = slidePieces(scene.width, scene.height);
  const base = texture(textures, 'parenchyma');
  const overlays = pieces.map((p) => overlaySvg(scene, p, seed, classColours(textures)));
  return (
    sharp(base.data, { raw: { width: base.size, height: base.size, channels: base.channels }, limitInputPixels: false })
      // Trim the tile if the slide is smaller, then repeat it over the slide (lazily).
      .extract({ left: 0, top: 0, width: Math.min(scene.width, base.size), height: Math.min(scene.height, base.size) })
      .extend({
        right: Math.max(0, scene.width - base.size),
        bottom: Math.max(0, scene.height - base.size),
        extendWith: 'repeat',
      })
      .composite([
        ...tumourLayers(scene, pieces, textures),
        ...(await blurLayers(scene, pieces, textures)),
        ...svgLayers(overlays, pieces, 'over'),
        tileLayer(texture(textures, 'grain'), 'over', scene),
      ])
      .removeAlpha()
      .tiff(camelyonTiffOptions(scene.mpp))
  );
}
