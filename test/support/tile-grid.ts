/**
 * The stored JPEG tiles under a rectangle of a slide level, as the native decoder takes them
 * (null: sparse), and the rectangle relative to the first of them: what SlideFile.render hands
 * the decoder, for tests and the bench's codec floor to call the decoder directly.
 */
import { readFileSync } from 'node:fs';
import type { Crop } from '../../src/imaging/sharp.js';
import { openSlideFile, tileSpan, type SlideFile, type SourceOptions } from '../../src/slides/file.js';
import { parseTiff, TAG } from '../../src/slides/tiff.js';

export interface JpegGrid {
  grid: { tiles: Array<Buffer | null>; across: number; tileWidth: number; tileHeight: number };
  local: Crop;
}

export async function jpegGrid(src: SlideFile, level: number, crop: Crop): Promise<JpegGrid> {
  const l = src.levels[level]!;
  const span = tileSpan(crop, l.tileWidth, l.tileHeight);
  const tiles: Array<Buffer | null> = [];
  for (let ty = span.ty0; ty <= span.ty1; ty++)
    for (let tx = span.tx0; tx <= span.tx1; tx++) tiles.push(await src.jpegTile(level, tx, ty));
  return {
    grid: { tiles, across: span.tx1 - span.tx0 + 1, tileWidth: l.tileWidth, tileHeight: l.tileHeight },
    local: span.local,
  };
}

/** Level 0 of a TIFF, opened as the service opens it. */
export function openLevel0(path: string, opts: SourceOptions = { native: true }): SlideFile {
  const bytes = readFileSync(path);
  const d = parseTiff((o, l) => bytes.subarray(o, o + l), bytes.length).ifds[0]!;
  const level = {
    ifd: 0,
    width: d.num.get(TAG.ImageWidth)!,
    height: d.num.get(TAG.ImageLength)!,
    tileWidth: d.num.get(TAG.TileWidth)!,
    tileHeight: d.num.get(TAG.TileLength)!,
  };
  return openSlideFile(path, [level], opts);
}
