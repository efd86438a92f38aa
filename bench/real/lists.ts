/**
 * The request lists of the real-size part, over all its slides (deterministic by seed): patch
 * top-lefts from the real NCRF centres (tumour and normal lists, 40,000 lines, each real slide
 * mapped into a generated one's tissue), native 512 px DeepZoom tiles and 254/1 tiles of the
 * finest DeepZoom level over tissue, shuffled across slides. No list repeats an entry.
 */
import { fileURLToPath } from 'node:url';
import { deepZoomGeometry } from '../../src/tiles/deepzoom.js';
import { readPatchCentres } from '../datasets.js';
import { shuffle } from '../lists.js';
import { mulberry32 } from '../../src/prng.js';
import {
  assignSlides,
  buildPatchList,
  realLevels,
  REAL_TILE,
  tileIsTissue,
  type Patch,
  type RealSlideSpec,
} from './geometry.js';

export const PATCH_SIZE = 256;

const fixture = (name: string) =>
  fileURLToPath(new URL(`../../../shared/fixtures/real/camelyon16/${name}`, import.meta.url));

export function realPatchList(slides: readonly RealSlideSpec[]): Patch[] {
  const centres = [
    ...readPatchCentres(fixture('ncrf_tumor_valid_patch_centres.txt')),
    ...readPatchCentres(fixture('ncrf_normal_valid_patch_centres.txt')),
  ];
  const assign = assignSlides(
    [...new Set(centres.map((c) => c.slide))],
    slides.map((s) => s.id),
  );
  return buildPatchList(centres, slides, (r) => assign.get(r)!, PATCH_SIZE, mulberry32(11));
}

export interface SlideTile {
  id: string;
  level: number;
  col: number;
  row: number;
}

/** Tiles of the finest DeepZoom level of each slide whose level-0 area meets tissue, shuffled. */
export function realTileList(
  slides: readonly RealSlideSpec[],
  tileSize: number,
  overlap: number,
  seed: number,
): SlideTile[] {
  const out: SlideTile[] = [];
  for (const s of slides) {
    const levels = realLevels(s.width, s.height).map((l) => ({ ...l, downsample: s.width / l.width }));
    const g = deepZoomGeometry(levels, tileSize, overlap);
    const level = g.levels.length - 1;
    const l = g.levels[level]!;
    for (let row = 0; row < l.rows; row++)
      for (let col = 0; col < l.cols; col++) {
        const tx = Math.floor((col * tileSize) / REAL_TILE);
        const ty = Math.floor((row * tileSize) / REAL_TILE);
        if (tileIsTissue(s, 0, tx, ty)) out.push({ id: s.id, level, col, row });
      }
  }
  return shuffle(out, mulberry32(seed));
}

export function regionUrl(p: Patch, mpp: number | null): string {
  const scale = mpp === null ? 'level=0' : `mpp=${mpp}`;
  return `/slides/${p.id}/region?x=${p.x}&y=${p.y}&width=${PATCH_SIZE}&height=${PATCH_SIZE}&${scale}&format=jpeg`;
}

export function tileUrl(t: SlideTile, rendered: boolean): string {
  return `/slides/${t.id}/image_files/${t.level}/${t.col}_${t.row}.jpeg${rendered ? '?tileSize=254&overlap=1' : ''}`;
}

/**
 * What OpenSlide reads for the same patch: level 0 at 256 px, or for a micrometre-per-pixel size
 * the coarsest level not coarser than it (the nearest finer level, as the service decodes), a
 * square of size * mpp / levelMpp px there, resized to size.
 */
export function openslideRead(
  s: RealSlideSpec,
  p: Patch,
  mpp: number | null,
): { level: number; read: number; out: number } {
  if (mpp === null) return { level: 0, read: PATCH_SIZE, out: PATCH_SIZE };
  const levels = realLevels(s.width, s.height);
  let level = 0;
  for (let k = 0; k < levels.length; k++) if (s.mpp * (s.width / levels[k]!.width) <= mpp * 1.0001) level = k;
  const levelMpp = s.mpp * (s.width / levels[level]!.width);
  return { level, read: Math.round((PATCH_SIZE * mpp) / levelMpp), out: PATCH_SIZE };
}
