/**
 * Writes a slide's pixels straight into a Camelyon16-style pyramidal BigTIFF in one libvips
 * pipeline, streaming region by region (no full-resolution buffer ever exists in JS; tumor_001 is
 * ~750 megapixels):
 *   low-res look map, upscaled smoothly (flat colours; transparent where parenchyma shows)
 *   -> parenchyma texture tile under it        (dest-over: fills the transparent part)
 *   -> metastasis mask SVG, then its texture   (dest-out cuts the tumour out, dest-over fills it)
 *   -> overlay SVG: fat membranes, fibres, artefacts
 *   -> grain tile multiplied over everything   (glass noise, stain grain)
 */
import sharp, { type Blend, type OverlayOptions, type TiffOptions } from 'sharp';
import { LOOK_DOWNSAMPLE, classColours, lookRaster } from './look.js';
import type { Scene } from './scene.js';
import { metastasisMaskSvg, overlaySvg, type Piece } from './svg.js';
import type { Texture, TextureName } from './textures.js';

/** librsvg refuses to render more than 32767 px a side, so wider slides get SVG columns. */
const MAX_PIECE = 32767;

export function slidePieces(width: number, height: number): Piece[] {
  if (height > MAX_PIECE) throw new Error(`slide height ${height} exceeds ${MAX_PIECE} px`);
  const count = Math.ceil(width / MAX_PIECE);
  const step = Math.ceil(width / count);
  const pieces: Piece[] = [];
  for (let left = 0; left < width; left += step) pieces.push({ left, top: 0, width: Math.min(step, width - left), height });
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

function tileLayer(textures: ReadonlyMap<TextureName, Texture>, name: TextureName, blend: Blend): OverlayOptions {
  const t = textures.get(name);
  if (!t) throw new Error(`texture ${name} missing`);
  return { input: t.rgb, raw: { width: t.size, height: t.size, channels: 3 }, tile: true, blend };
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

export async function writeSlideTiff(
  scene: Scene, textures: ReadonlyMap<TextureName, Texture>, seed: number, file: string,
): Promise<void> {
  const look = lookRaster(scene);
  const d = LOOK_DOWNSAMPLE;
  const pieces = slidePieces(scene.width, scene.height);
  const colours = classColours(textures);
  const masks = pieces.map((p) => metastasisMaskSvg(scene, p));
  const overlays = pieces.map((p) => overlaySvg(scene, p, seed, colours));
  await sharp(look.rgba, { raw: { width: look.width, height: look.height, channels: 4 }, limitInputPixels: false })
    // Upscale so look pixel i covers level-0 pixels [8i, 8i + 8), then trim the overhang.
    .resize(look.width * d, look.height * d, { fit: 'fill', kernel: 'linear' })
    .extract({ left: 0, top: 0, width: scene.width, height: scene.height })
    .composite([
      tileLayer(textures, 'parenchyma', 'dest-over'),
      ...svgLayers(masks, pieces, 'dest-out'),
      tileLayer(textures, 'metastasis', 'dest-over'),
      ...svgLayers(overlays, pieces, 'over'),
      tileLayer(textures, 'grain', 'multiply'),
    ])
    .removeAlpha()
    .tiff(camelyonTiffOptions(scene.mpp))
    .toFile(file);
}
