/**
 * A thumbnail of a slide with its detected tissue outlined (for the README: docs/tissue-cmu1.png):
 * `npx tsx src/tissue/figure.ts <slide> <out.png> [width]`. The detection is ingest's own
 * (detectSlideTissue), the outline the tissue raster's boundary pixels resampled to the thumbnail.
 */
import { writeFileSync } from 'node:fs';
import { encodeRawPng, readLevelResized } from '../imaging/sharp.js';
import { slideStructure } from '../slides/structure.js';
import { readTiffFile } from '../slides/tiff.js';
import { detectSlideTissue, localLevelReader, type TissueBuild } from './build.js';
import { TISSUE_COLOR } from './mask.js';

/** Boundary of the tissue at the thumbnail's resolution: tissue pixels with a 4-neighbour of glass. */
export function outline(t: TissueBuild, width: number, height: number): Uint8Array {
  const g = t.geometry;
  const inside = new Uint8Array(width * height);
  for (let j = 0; j < height; j++) {
    const ty = Math.min(g.height - 1, Math.floor(((j + 0.5) * g.height) / height));
    for (let i = 0; i < width; i++) {
      const tx = Math.min(g.width - 1, Math.floor(((i + 0.5) * g.width) / width));
      inside[j * width + i] = t.mask[ty * g.width + tx] ? 1 : 0;
    }
  }
  const edge = new Uint8Array(width * height);
  for (let j = 0; j < height; j++) {
    for (let i = 0; i < width; i++) {
      const p = j * width + i;
      if (!inside[p]) continue;
      const out = (x: number, y: number) => x < 0 || y < 0 || x >= width || y >= height || !inside[y * width + x];
      if (out(i - 1, j) || out(i + 1, j) || out(i, j - 1) || out(i, j + 1)) edge[p] = 1;
    }
  }
  return edge;
}

async function main(): Promise<void> {
  const [path, out, w] = process.argv.slice(2);
  if (!path || !out) throw new Error('usage: tsx src/tissue/figure.ts <slide> <out.png> [width]');
  const s = slideStructure(readTiffFile(path));
  const tissue = await detectSlideTissue(localLevelReader(path), s);
  const width = Math.min(Number(w ?? 800), s.width);
  const height = Math.round((width * s.height) / s.width);
  const img = await readLevelResized(path, s.levels[0]!.ifd, width, height);
  const edge = outline(tissue, width, height);
  // Thicken the outline to 3 px so it reads at README size.
  for (let j = 0; j < height; j++) {
    for (let i = 0; i < width; i++) {
      if (!edge[j * width + i]) continue;
      for (let dy = -1; dy <= 1; dy++)
        for (let dx = -1; dx <= 1; dx++) {
          const x = i + dx;
          const y = j + dy;
          if (x >= 0 && y >= 0 && x < width && y < height) img.data.set(TISSUE_COLOR, (y * width + x) * img.channels);
        }
    }
  }
  writeFileSync(out, await encodeRawPng(img.data, width, height, img.channels as 3));
  console.log(`${out}: ${width} x ${height}, tissue raster ${tissue.geometry.width} x ${tissue.geometry.height}`);
}

if (process.argv[1]?.endsWith('figure.ts')) await main();
