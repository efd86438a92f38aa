/**
 * DeepZoom geometry, exactly as OpenSlide's DeepZoomGenerator computes it (pure: no I/O).
 *
 * Four coordinate planes, named in every variable:
 * - `t`  tile column/row within a DeepZoom level
 * - `z`  pixels within a DeepZoom level
 * - `l`  pixels within a slide level
 * - `l0` pixels within slide level 0
 * DeepZoom level sizes halve (rounding up) from level 0's size down to 1x1; each DeepZoom level
 * reads from the slide level OpenSlide's get_best_level_for_downsample picks, so a tile is never
 * upsampled from a coarser level when a finer one exists.
 */

export interface SlideLevelGeometry {
  width: number;
  height: number;
  downsample: number;
}

export interface DzLevel {
  width: number;
  height: number;
  cols: number;
  rows: number;
  /** Index of the slide level the tiles are read from. */
  slideLevel: number;
  /** Slide-level pixels per DeepZoom pixel (1 = read at native resolution). */
  lPerZ: number;
}

export interface DzGeometry {
  tileSize: number;
  overlap: number;
  width: number;
  height: number;
  levels: DzLevel[];
}

export interface TileRead {
  slideLevel: number;
  /** Top-left of the region in level-0 pixels (what read_region takes). */
  l0X: number;
  l0Y: number;
  /** Top-left and size of the region in the slide level's pixels. */
  lX: number;
  lY: number;
  lWidth: number;
  lHeight: number;
  /** Size of the tile as served. */
  zWidth: number;
  zHeight: number;
}

export function deepZoomGeometry(
  slideLevels: readonly SlideLevelGeometry[],
  tileSize: number,
  overlap: number,
): DzGeometry {
  const base = slideLevels[0]!;
  const sizes: Array<[number, number]> = [[base.width, base.height]];
  let [zw, zh] = [base.width, base.height];
  while (zw > 1 || zh > 1) {
    zw = Math.max(1, Math.ceil(zw / 2));
    zh = Math.max(1, Math.ceil(zh / 2));
    sizes.push([zw, zh]);
  }
  sizes.reverse();
  const count = sizes.length;
  const downsamples = slideLevels.map((l) => l.downsample);
  const levels = sizes.map(([w, h], dz): DzLevel => {
    const l0PerZ = 2 ** (count - dz - 1);
    const slideLevel = bestLevelForDownsample(downsamples, l0PerZ);
    return {
      width: w,
      height: h,
      cols: Math.ceil(w / tileSize),
      rows: Math.ceil(h / tileSize),
      slideLevel,
      lPerZ: l0PerZ / downsamples[slideLevel]!,
    };
  });
  return { tileSize, overlap, width: base.width, height: base.height, levels };
}

/** OpenSlide's rule: the last level whose downsample is not above the wanted one (strictly below the next). */
export function bestLevelForDownsample(downsamples: readonly number[], wanted: number): number {
  if (wanted < downsamples[0]!) return 0;
  for (let i = 1; i < downsamples.length; i++) if (wanted < downsamples[i]!) return i - 1;
  return downsamples.length - 1;
}

/** The region a tile is made from, or null when the address is outside the level. */
export function tileRead(
  g: DzGeometry,
  slideLevels: readonly SlideLevelGeometry[],
  dz: number,
  col: number,
  row: number,
): TileRead | null {
  const level = g.levels[dz];
  if (!level || col < 0 || row < 0 || col >= level.cols || row >= level.rows) return null;
  const sl = slideLevels[level.slideLevel]!;
  const axis = (t: number, tLim: number, zLim: number, lLim: number) => {
    const zTl = g.overlap * (t !== 0 ? 1 : 0);
    const zBr = g.overlap * (t !== tLim - 1 ? 1 : 0);
    const zSize = Math.min(g.tileSize, zLim - g.tileSize * t) + zTl + zBr;
    const l = level.lPerZ * (g.tileSize * t - zTl);
    const l0 = Math.trunc(sl.downsample * l);
    const lSize = Math.trunc(Math.min(Math.ceil(level.lPerZ * zSize), lLim - Math.ceil(l)));
    return { zSize, l, l0, lSize };
  };
  const x = axis(col, level.cols, level.width, sl.width);
  const y = axis(row, level.rows, level.height, sl.height);
  return {
    slideLevel: level.slideLevel,
    l0X: x.l0,
    l0Y: y.l0,
    lX: Math.floor(x.l),
    lY: Math.floor(y.l),
    lWidth: x.lSize,
    lHeight: y.lSize,
    zWidth: x.zSize,
    zHeight: y.zSize,
  };
}

/**
 * Whether a DeepZoom tile is one stored tile, byte for byte: it reads a stored level at native
 * resolution, with no overlap, exactly one stored tile's rectangle (at the right and bottom edges
 * only when the stored tile is whole). Its stored tile is then (lX / tileSize, lY / tileSize).
 */
export function isStoredTile(
  g: DzGeometry,
  dz: number,
  read: TileRead,
  stored: { width: number; height: number },
): boolean {
  const size = g.tileSize;
  return (
    g.overlap === 0 &&
    g.levels[dz]?.lPerZ === 1 &&
    stored.width === size &&
    stored.height === size &&
    read.lWidth === size &&
    read.lHeight === size &&
    read.zWidth === size &&
    read.zHeight === size &&
    read.lX % size === 0 &&
    read.lY % size === 0
  );
}

/** A tile's first pixel in level-0 pixels (plane `l0`), and level-0 pixels per pixel of its DeepZoom level. */
export function tileOrigin(
  g: DzGeometry,
  dz: number,
  col: number,
  row: number,
): { l0X: number; l0Y: number; l0PerZ: number } {
  const l0PerZ = 2 ** (g.levels.length - 1 - dz);
  const zX = col * g.tileSize - (col > 0 ? g.overlap : 0);
  const zY = row * g.tileSize - (row > 0 ? g.overlap : 0);
  return { l0X: zX * l0PerZ, l0Y: zY * l0PerZ, l0PerZ };
}

/** `"12_7.jpeg"` -> column 12, row 7, format jpeg; null for anything else. */
export function parseTileName(name: string): { col: number; row: number; format: string } | null {
  const m = /^(\d{1,9})_(\d{1,9})\.([a-z]{3,4})$/.exec(name);
  if (!m) return null;
  return { col: Number(m[1]), row: Number(m[2]), format: m[3]! };
}

/** The DZI document OpenSeadragon reads. */
export function dziXml(g: DzGeometry, format: string): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<Image xmlns="http://schemas.microsoft.com/deepzoom/2008" Format="${format}" Overlap="${g.overlap}" TileSize="${g.tileSize}">` +
    `<Size Height="${g.height}" Width="${g.width}"/></Image>\n`
  );
}
