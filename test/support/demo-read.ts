/**
 * Independent readers for checking the demo dataset: TIFF structure through geotiff (not sharp,
 * which wrote it), pixel regions through sharp, and point classes from the scene.
 */
import { fromFile } from 'geotiff';
import sharp from 'sharp';
import { ringBounds } from '../../src/demo/geometry.js';
import { classAtPoint, rasterizeShapes } from '../../src/demo/rasterize.js';
import { CLASS } from '../../src/demo/taxonomy.js';
import type { Scene } from '../../src/demo/scene.js';

export interface TiffLevel {
  width: number;
  height: number;
  tileWidth: number;
  tileHeight: number;
  compression: number;
  newSubfileType: number;
  resolutionUnit: number;
  /** XResolution as a number (pixels per resolution unit). */
  xResolution: number;
}

export interface TiffStructure {
  bigTiff: boolean;
  levels: TiffLevel[];
}

function rational(v: unknown): number {
  if (typeof v === 'number') return v;
  if (isArrayLike(v) && v.length >= 2) return Number(v[0]) / Number(v[1]);
  return Number.NaN;
}

function isArrayLike(v: unknown): v is ArrayLike<number | bigint> {
  return typeof v === 'object' && v !== null && typeof (v as { length?: unknown }).length === 'number';
}

export async function readTiffStructure(file: string): Promise<TiffStructure> {
  const tif = await fromFile(file);
  try {
    const count = await tif.getImageCount();
    const levels: TiffLevel[] = [];
    for (let i = 0; i < count; i++) {
      const image = await tif.getImage(i);
      const fd = image.fileDirectory;
      levels.push({
        width: image.getWidth(),
        height: image.getHeight(),
        tileWidth: Number(fd.getValue('TileWidth')),
        tileHeight: Number(fd.getValue('TileLength')),
        compression: Number(fd.getValue('Compression')),
        newSubfileType: Number((await fd.loadValue('NewSubfileType')) ?? 0),
        resolutionUnit: Number(await fd.loadValue('ResolutionUnit')),
        xResolution: rational(await fd.loadValue('XResolution')),
      });
    }
    return { bigTiff: tif.bigTiff, levels };
  } finally {
    await tif.close();
  }
}

/** Mean RGB of a square of `size` pixels of pyramid level `page`, centred on a level-0 point. */
export async function meanRgb(
  file: string,
  page: number,
  x0: number,
  y0: number,
  size: number,
): Promise<[number, number, number]> {
  const f = 2 ** page;
  const left = Math.max(0, Math.round(x0 / f - size / 2));
  const top = Math.max(0, Math.round(y0 / f - size / 2));
  const { data, info } = await sharp(file, { page, limitInputPixels: false })
    .extract({ left, top, width: size, height: size })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const sum = [0, 0, 0];
  for (let i = 0; i < data.length; i += info.channels) for (let c = 0; c < 3; c++) sum[c]! += data[i + c]!;
  const n = data.length / info.channels;
  return [sum[0]! / n, sum[1]! / n, sum[2]! / n];
}

/** Standard deviation of luminance over a level-0 square: low where the picture is blurred. */
export async function lumaStd(file: string, x0: number, y0: number, size: number): Promise<number> {
  const { data } = await sharp(file, { limitInputPixels: false })
    .extract({ left: Math.round(x0 - size / 2), top: Math.round(y0 - size / 2), width: size, height: size })
    .greyscale()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const mean = data.reduce((a, v) => a + v, 0) / data.length;
  return Math.sqrt(data.reduce((a, v) => a + (v - mean) ** 2, 0) / data.length);
}

/**
 * A level-0 point deep inside a region of class `value`: the scene's class is `value` at the
 * point and all around it within `margin` pixels. Searches a grid over the class's shapes.
 */
export function pointInside(scene: Scene, value: number, margin: number, shapeName?: string): [number, number] {
  const shapes = scene.shapes.filter((s) => s.value === value && (shapeName === undefined || s.name === shapeName));
  for (const s of shapes) {
    const ring = s.rings[0]!;
    let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
    for (let i = 0; i < ring.length; i += 2) {
      [x0, x1] = [Math.min(x0, ring[i]!), Math.max(x1, ring[i]!)];
      [y0, y1] = [Math.min(y0, ring[i + 1]!), Math.max(y1, ring[i + 1]!)];
    }
    const n = 24;
    const candidates: Array<[number, number]> = [];
    for (let j = 1; j < n; j++)
      for (let i = 1; i < n; i++) candidates.push([x0 + ((x1 - x0) * i) / n, y0 + ((y1 - y0) * j) / n]);
    // Prefer points near the shape's middle.
    candidates.sort(
      (a, b) =>
        Math.hypot(a[0] - (x0 + x1) / 2, a[1] - (y0 + y1) / 2) - Math.hypot(b[0] - (x0 + x1) / 2, b[1] - (y0 + y1) / 2),
    );
    for (const [x, y] of candidates) {
      const around = [
        [0, 0],
        [margin, 0],
        [-margin, 0],
        [0, margin],
        [0, -margin],
        [margin, margin],
        [-margin, -margin],
        [margin, -margin],
        [-margin, margin],
      ];
      if (around.every(([dx, dy]) => classAtPoint(scene.shapes, x + dx!, y + dy!) === value)) return [x, y];
    }
  }
  throw new Error(`no point ${margin} px deep inside class ${value} in ${scene.id}`);
}

/**
 * Mean luminance of the fold's pixels and of the pixels around it that show the same tissue
 * as lies under the fold (labels rasterised at full resolution over the fold's box, level 0).
 */
export async function foldContrast(scene: Scene, file: string): Promise<{ fold: number; beside: number }> {
  const foldAt = scene.shapes.findIndex((s) => s.value === CLASS.fold);
  const [x0, y0, x1, y1] = ringBounds(scene.shapes[foldAt]!.rings[0]!);
  const left = Math.max(0, Math.floor(x0) - 20);
  const top = Math.max(0, Math.floor(y0) - 20);
  const box = {
    left,
    top,
    width: Math.min(scene.width, Math.ceil(x1) + 20) - left,
    height: Math.min(scene.height, Math.ceil(y1) + 20) - top,
  };
  // Shapes moved so the box's corner is the origin.
  const moved = scene.shapes.map((s) => ({
    ...s,
    rings: s.rings.map((r) => r.map((v, i) => v - (i % 2 ? top : left))),
  }));
  const labels = rasterizeShapes(moved, box.width, box.height, 1);
  const under = rasterizeShapes(moved.slice(0, foldAt), box.width, box.height, 1);
  const data = await sharp(file, { limitInputPixels: false }).extract(box).greyscale().raw().toBuffer();
  const sum = { fold: 0, foldN: 0, beside: 0, besideN: 0 };
  labels.forEach((v, i) => {
    if (v === CLASS.fold) [sum.fold, sum.foldN] = [sum.fold + data[i]!, sum.foldN + 1];
    else if (v === under[i] && v !== 0) [sum.beside, sum.besideN] = [sum.beside + data[i]!, sum.besideN + 1];
  });
  return { fold: sum.fold / sum.foldN, beside: sum.beside / sum.besideN };
}
