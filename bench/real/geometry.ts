/**
 * Pure helpers of the real-size bench dataset (no I/O): the slides' geometry, which stored tile
 * gets which content (so that every tile of every slide is different), how the real Camelyon16
 * lesion polygons and NCRF patch centres are mapped onto the generated slides, and the request
 * lists built from them.
 */

/** Bump when the written bytes change: the data lives in var/bench/real-v<version>/. */
export const REAL_VERSION = 1;
export const REAL_TILE = 512;
export const REAL_QUALITY = 70;

export interface RealSlideSpec {
  id: string;
  width: number;
  height: number;
  mpp: number;
  /** Seed of the slide's textures and of its tile content. */
  seed: number;
  /** Tissue section: an ellipse, centre and semi-axes as fractions of the slide's width/height. */
  tissue: { cx: number; cy: number; rx: number; ry: number };
  /** The real lesion polygons drawn on this slide (a file stem of the fixtures). */
  lesions: string;
}

/**
 * Two Camelyon16 geometries (Radboud/3DHistech 97792 x 221184 at 0.243 um/px, Utrecht/Philips-size
 * 86016 x 89600 at 0.226 um/px), two slides each. Ids name the real slide whose lesions they carry.
 */
export const REAL_SLIDES: readonly RealSlideSpec[] = [
  {
    id: 'tumor_105',
    width: 97792,
    height: 221184,
    mpp: 0.243,
    seed: 105,
    tissue: { cx: 0.5, cy: 0.47, rx: 0.36, ry: 0.3 },
    lesions: 'Tumor_105',
  },
  {
    id: 'tumor_107',
    width: 97792,
    height: 221184,
    mpp: 0.243,
    seed: 107,
    tissue: { cx: 0.48, cy: 0.52, rx: 0.34, ry: 0.31 },
    lesions: 'Tumor_107',
  },
  {
    id: 'tumor_034',
    width: 86016,
    height: 89600,
    mpp: 0.226,
    seed: 34,
    tissue: { cx: 0.5, cy: 0.5, rx: 0.42, ry: 0.4 },
    lesions: 'Tumor_034',
  },
  {
    id: 'tumor_039',
    width: 86016,
    height: 89600,
    mpp: 0.226,
    seed: 39,
    tissue: { cx: 0.52, cy: 0.49, rx: 0.4, ry: 0.42 },
    lesions: 'Tumor_039',
  },
];

export interface Dims {
  width: number;
  height: number;
}

/** Pyramid levels: halved (floor) while the larger side of the last level exceeds one tile. */
export function realLevels(width: number, height: number, tile = REAL_TILE): Dims[] {
  const out: Dims[] = [{ width, height }];
  for (;;) {
    const p = out[out.length - 1]!;
    if (Math.max(p.width, p.height) <= tile) return out;
    out.push({ width: Math.max(1, Math.floor(p.width / 2)), height: Math.max(1, Math.floor(p.height / 2)) });
  }
}

export function tilesAcross(d: Dims, tile = REAL_TILE): { across: number; down: number } {
  return { across: Math.ceil(d.width / tile), down: Math.ceil(d.height / tile) };
}

/** Whether a tile of a level meets the tissue ellipse (tested at the tile's point nearest its centre). */
export function tileIsTissue(s: RealSlideSpec, level: number, tx: number, ty: number, tile = REAL_TILE): boolean {
  const span = tile * 2 ** level;
  const near = (t: number, size: number, c: number) =>
    Math.min(Math.max(c, (t * span) / size), ((t + 1) * span) / size) - c;
  const dx = near(tx, s.width, s.tissue.cx) / s.tissue.rx;
  const dy = near(ty, s.height, s.tissue.cy) / s.tissue.ry;
  return dx * dx + dy * dy <= 1;
}

/** Where a tile's pixels come from: one of the textures, a crop offset, and a mirroring. */
export interface TileContent {
  texture: number;
  left: number;
  top: number;
  flip: boolean;
  flop: boolean;
}

/** The space of distinct crops: textures x x-offsets x y-offsets x 4 mirrorings. */
export interface ContentSpace {
  textures: number;
  xOffsets: number;
  yOffsets: number;
}

export function contentSpaceSize(c: ContentSpace): number {
  return c.textures * c.xOffsets * c.yOffsets * 4;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/**
 * The content of the n-th tile of a slide (tiles numbered across all levels): n -> (a n + b) mod M
 * is a bijection of 0..M-1 when a is coprime with M, so the first M tiles of a slide all get
 * different crops; a and b come from the slide's seed, so consecutive tiles jump across the space.
 */
export function tileContent(n: number, seed: number, c: ContentSpace): TileContent {
  const m = contentSpaceSize(c);
  if (!(n >= 0 && n < m && Number.isInteger(n))) throw new RangeError(`tile ${n} outside 0..${m - 1}`);
  let a = (Math.imul(seed + 1, 2654435761) >>> 0) % m || 1;
  while (gcd(a, m) !== 1) a = (a + 1) % m || 1;
  const b = (Math.imul(seed + 7, 40503) >>> 0) % m;
  // (a n + b) mod m without leaving exact integers: a, n < 2^26 here, so a * n < 2^53.
  let k = Number((BigInt(a) * BigInt(n) + BigInt(b)) % BigInt(m));
  const orient = k % 4;
  k = Math.floor(k / 4);
  const left = k % c.xOffsets;
  k = Math.floor(k / c.xOffsets);
  const top = k % c.yOffsets;
  const texture = Math.floor(k / c.yOffsets);
  return { texture, left, top, flip: (orient & 1) === 1, flop: (orient & 2) === 2 };
}

export type Box = [number, number, number, number];

/** Bounding box (x0, y0, x1, y1) of points. */
export function boundingBox(points: ReadonlyArray<readonly [number, number]>): Box {
  let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
  for (const [x, y] of points) {
    x0 = Math.min(x0, x);
    y0 = Math.min(y0, y);
    x1 = Math.max(x1, x);
    y1 = Math.max(y1, y);
  }
  return [x0, y0, x1, y1];
}

/** The tissue ellipse's bounding box in level-0 pixels. */
export function tissueBox(s: RealSlideSpec): Box {
  const t = s.tissue;
  return [(t.cx - t.rx) * s.width, (t.cy - t.ry) * s.height, (t.cx + t.rx) * s.width, (t.cy + t.ry) * s.height];
}

/**
 * Maps points of a real slide into a box of a generated one: the axes are swapped when one box is
 * landscape and the other portrait (a square
 * box keeps them), then one scale (the largest that fits) keeps shapes and
 * relative distances, and the result is centred in the box. Returns the point mapper.
 */
export function boxMapper(src: Box, dst: Box): (x: number, y: number) => [number, number] {
  const sw = Math.max(1, src[2] - src[0]);
  const sh = Math.max(1, src[3] - src[1]);
  const dw = dst[2] - dst[0];
  const dh = dst[3] - dst[1];
  const swap = (sw > sh && dw < dh) || (sw < sh && dw > dh);
  const [w, h] = swap ? [sh, sw] : [sw, sh];
  const k = Math.min(dw / w, dh / h);
  const ox = dst[0] + (dw - w * k) / 2;
  const oy = dst[1] + (dh - h * k) / 2;
  return (x, y) => {
    const [u, v] = swap ? [y - src[1], x - src[0]] : [x - src[0], y - src[1]];
    return [ox + u * k, oy + v * k];
  };
}

export interface Centre {
  slide: string;
  x: number;
  y: number;
}

export interface Patch {
  id: string;
  /** Level-0 top-left of the patch. */
  x: number;
  y: number;
}

/**
 * The request list: each real slide's centres mapped (boxMapper of that slide's own centres' box)
 * into the tissue box of the generated slide it is assigned to, as patch top-lefts clamped inside
 * the slide; duplicates dropped (no request repeats), then shuffled across slides (a training
 * loader draws across slides). `assign` names the generated slide of a real one.
 */
export function buildPatchList(
  centres: readonly Centre[],
  slides: readonly RealSlideSpec[],
  assign: (realSlide: string) => string,
  size: number,
  rand: () => number,
): Patch[] {
  const bySlide = new Map<string, Centre[]>();
  for (const c of centres) (bySlide.get(c.slide) ?? bySlide.set(c.slide, []).get(c.slide)!).push(c);
  const seen = new Set<string>();
  const out: Patch[] = [];
  for (const [real, cs] of bySlide) {
    const spec = slides.find((s) => s.id === assign(real));
    if (!spec) throw new Error(`no generated slide for ${real}`);
    const map = boxMapper(boundingBox(cs.map((c) => [c.x, c.y])), tissueBox(spec));
    for (const c of cs) {
      const [mx, my] = map(c.x, c.y);
      const clamp = (v: number, max: number) => Math.max(0, Math.min(max, Math.round(v)));
      const p = {
        id: spec.id,
        x: clamp(mx - size / 2, spec.width - size),
        y: clamp(my - size / 2, spec.height - size),
      };
      const key = `${p.id}/${p.x}/${p.y}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(p);
    }
  }
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/**
 * Real slides to generated ones: a real slide whose name matches a generated id keeps it (its
 * patches land with its own lesions), the others go round-robin in name order.
 */
export function assignSlides(realSlides: readonly string[], ids: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  let k = 0;
  for (const r of [...realSlides].sort()) {
    const own = ids.find((id) => id === r.toLowerCase());
    out.set(r, own ?? ids[k++ % ids.length]!);
  }
  return out;
}
