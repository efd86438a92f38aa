/**
 * SVG layers of a slide, rendered by librsvg as libvips asks for them (flat fills and strokes
 * only: librsvg redraws image patterns for every 2000 px render tile, which is far too slow).
 *
 * A shape is only partly visible when later tissue shapes cover it, so every drawing is clipped
 * to its shape and to the complement of each later tissue shape (nested clip groups intersect).
 * Artefacts are drawn last, in scene order, over whatever tissue lies under them.
 * One SVG covers one piece of the slide (librsvg renders at most 32767 px a side).
 */
import { fatCells, fibreRings } from './decor.js';
import { ringBounds, ringInside, simplifyRing, type Bounds, type Ring } from './geometry.js';
import { createRng, hashString, type Rng } from './random.js';
import { classAtPoint } from './rasterize.js';
import type { Scene, SceneShape } from './scene.js';
import { CLASS } from './taxonomy.js';

export interface Piece {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** Colour of glass (0) and flat tissue, and mean colour of textured tissue (blur washes to it). */
export type ClassColours = Record<number, string>;

const TISSUE = new Set<number>([CLASS.metastasis, CLASS.parenchyma, CLASS.adipose, CLASS.connective]);

/** Drawing may deviate from the labels' outlines by this much (sub-pixel: invisible). */
const DRAW_TOLERANCE = 0.5;

/** Rings as one path: "M x y ... Z" per ring (filled even-odd by the caller), simplified. */
export function pathData(rings: readonly Ring[]): string {
  const parts: string[] = [];
  for (const full of rings) {
    const ring = simplifyRing(full, DRAW_TOLERANCE);
    const xy: string[] = [];
    for (let i = 0; i + 1 < ring.length; i += 2) xy.push(`${ring[i]} ${ring[i + 1]}`);
    parts.push(`M${xy.join(' ')}Z`);
  }
  return parts.join('');
}

/** Collects clip paths once and wraps drawings in the clips that make them exact. */
class Clips {
  private readonly defs = new Map<string, string>();
  private readonly bounds: Bounds[];
  /** containers[j]: tissue shapes (without holes) that wholly contain shape j. */
  private readonly containers: number[][];

  constructor(private readonly scene: Scene) {
    this.bounds = scene.shapes.map((s) => ringBounds(s.rings[0]!));
    this.containers = containersOf(scene, this.bounds);
  }

  /** `content` limited to shape k (-1: the glass under all) and to what no later tissue shape covers. */
  visible(k: number, content: string, clipToShape: boolean): string {
    const shape = this.scene.shapes[k];
    let out = clipToShape && shape ? this.group(`in-${k}`, shape.rings, content, false) : content;
    const box = this.bounds[k] ?? ([0, 0, this.scene.width, this.scene.height] as Bounds);
    this.scene.shapes.forEach((later, j) => {
      if (j <= k || !TISSUE.has(later.value) || !overlaps(this.bounds[j]!, box)) return;
      // Each clip costs librsvg a mask per render tile: skip one implied by a containing later shape.
      if (this.containers[j]!.some((i) => i > k)) return;
      out = this.group(`out-${j}`, later.rings, out, true);
    });
    return out;
  }

  private group(id: string, rings: readonly Ring[], content: string, complement: boolean): string {
    if (!this.defs.has(id)) {
      const frame = complement ? `M-1 -1H${this.scene.width + 1}V${this.scene.height + 1}H-1Z` : '';
      this.defs.set(id, `<clipPath id="${id}"><path clip-rule="evenodd" d="${frame}${pathData(rings)}"/></clipPath>`);
    }
    return `<g clip-path="url(#${id})">${content}</g>`;
  }

  svg(piece: Piece, body: string): string {
    return [
      `<svg xmlns="http://www.w3.org/2000/svg" width="${piece.width}" height="${piece.height}"`,
      ` viewBox="${piece.left} ${piece.top} ${piece.width} ${piece.height}">`,
      `<defs>${FOLLICLE_GRADIENT}${[...this.defs.values()].join('')}</defs>${body}</svg>`,
    ].join('');
  }
}

/** Computed once per scene: it tests outlines of up to ~40,000 vertices against each other. */
const containerCache = new WeakMap<Scene, number[][]>();

function containersOf(scene: Scene, bounds: Bounds[]): number[][] {
  const cached = containerCache.get(scene);
  if (cached) return cached;
  const result = scene.shapes.map((inner, j) => {
    if (!TISSUE.has(inner.value)) return [];
    const list: number[] = [];
    scene.shapes.forEach((outer, i) => {
      const [a, b] = [bounds[i]!, bounds[j]!];
      const boxInside = a[0] <= b[0] && a[1] <= b[1] && a[2] >= b[2] && a[3] >= b[3];
      if (
        i !== j &&
        TISSUE.has(outer.value) &&
        outer.rings.length === 1 &&
        boxInside &&
        ringInside(inner.rings[0]!, outer.rings[0]!)
      )
        list.push(i);
    });
    return list;
  });
  containerCache.set(scene, result);
  return result;
}

function overlaps(a: Bounds, b: Bounds): boolean {
  return a[0] <= b[2] && b[0] <= a[2] && a[1] <= b[3] && b[1] <= a[3];
}

function pieceBounds(p: Piece): Bounds {
  return [p.left, p.top, p.left + p.width, p.top + p.height];
}

function path(rings: readonly Ring[], attrs: string): string {
  return `<path fill-rule="evenodd" d="${pathData(rings)}" ${attrs}/>`;
}

/** Opaque where metastasis is visible: its texture is put there (composite dest-out/dest-over). */
export function metastasisMaskSvg(scene: Scene, piece: Piece): string {
  return maskSvg(scene, piece, CLASS.metastasis, false, (s) => path(s.rings, 'fill="#000"'));
}

/**
 * Where the blurred texture replaces the sharp one: the blur shapes, opaque inside and 60% in a
 * rim, so focus fades out rather than stopping at a line.
 */
export function blurMaskSvg(scene: Scene, piece: Piece): string {
  return maskSvg(scene, piece, CLASS.blur, true, (s) => {
    const [x0, y0, x1, y1] = ringBounds(s.rings[0]!);
    const [cx, cy] = [(x0 + x1) / 2, (y0 + y1) / 2];
    const core = `transform="translate(${cx} ${cy}) scale(0.8) translate(${-cx} ${-cy})"`;
    return path(s.rings, 'fill="#000" fill-opacity="0.6"') + path(s.rings, `fill="#000" ${core}`);
  });
}

function maskSvg(
  scene: Scene,
  piece: Piece,
  value: number,
  clipToShape: boolean,
  draw: (s: SceneShape) => string,
): string {
  const clips = new Clips(scene);
  const box = pieceBounds(piece);
  const body = scene.shapes
    .map((s, k) =>
      s.value === value && overlaps(ringBounds(s.rings[0]!), box) ? clips.visible(k, draw(s), clipToShape) : '',
    )
    .join('');
  return clips.svg(piece, body);
}

/**
 * Everything over the two textures: glass and the flat tissue classes (fat, connective tissue)
 * where they show, their detail (membranes, fibres), then the artefacts. Where parenchyma or
 * metastasis shows, it is transparent so their textures below show through.
 */
export function overlaySvg(scene: Scene, piece: Piece, seed: number, colours: ClassColours): string {
  const clips = new Clips(scene);
  const box = pieceBounds(piece);
  const glass = `<rect x="-1" y="-1" width="${scene.width + 2}" height="${scene.height + 2}" fill="${colours[0]}"/>`;
  const body: string[] = [clips.visible(-1, glass, false)];
  scene.shapes.forEach((shape, k) => {
    if (!overlaps(ringBounds(shape.rings[0]!), box)) return;
    // One generator per shape, so every piece draws the same detail where pieces meet.
    const rng = createRng(seed ^ hashString(`${scene.id}/${k}`));
    const drawing = TISSUE.has(shape.value) ? detail(shape, rng, colours) : artefact(scene, k, colours);
    if (drawing) body.push(clips.visible(k, drawing, true));
  });
  return clips.svg(piece, body.join(''));
}

/**
 * Lymphoid follicles: a darker rim of packed lymphocytes (mantle) around a paler germinal
 * centre. They give the node its real low-zoom look and break up the texture tile's repeats.
 */
const FOLLICLE_GRADIENT =
  '<radialGradient id="follicle"><stop offset="0" stop-color="#f0dcf2" stop-opacity="0.5"/>' +
  '<stop offset="0.5" stop-color="#f0dcf2" stop-opacity="0.18"/><stop offset="0.72" stop-color="#2e1260" stop-opacity="0.28"/>' +
  '<stop offset="1" stop-color="#2e1260" stop-opacity="0"/></radialGradient>';

function follicles(ring: Ring, rng: Rng): string {
  const [x0, y0, x1, y1] = ringBounds(ring);
  const [cx, cy, rx, ry] = [(x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2, (y1 - y0) / 2];
  const out: string[] = [];
  for (let k = rng.int(7, 11); k > 0; k--) {
    const t = rng.range(0, 2 * Math.PI);
    const f = rng.range(0.62, 0.86);
    const r = Math.min(rx, ry) * rng.range(0.08, 0.14);
    out.push(
      `<circle cx="${(cx + Math.cos(t) * rx * f).toFixed(1)}" cy="${(cy + Math.sin(t) * ry * f).toFixed(1)}" r="${r.toFixed(1)}" fill="url(#follicle)"/>`,
    );
  }
  return out.join('');
}

/**
 * Flat fill plus drawn detail for fat and connective tissue; follicles on the node (the shape
 * named "lymph node"); nothing elsewhere, where the textures below show.
 */
function detail(shape: SceneShape, rng: Rng, colours: ClassColours): string {
  const fill = path(shape.rings, `fill="${colours[shape.value]}"`);
  switch (shape.value) {
    case CLASS.parenchyma:
      return shape.name === 'lymph node' ? follicles(shape.rings[0]!, rng) : '';
    case CLASS.adipose:
      return (
        fill +
        path(fatCells(shape.rings[0]!, rng), 'fill="none" stroke="#d47fb2" stroke-opacity="0.9" stroke-width="6"')
      );
    case CLASS.connective:
      return (
        fill +
        fibreRings(shape.rings[0]!, rng, shape.name === 'capsule')
          .map((r, i) =>
            path(
              [r],
              `fill="none" stroke="${i % 2 ? '#c96d9f' : '#dc8fb8'}" stroke-opacity="0.6" stroke-width="${3 + (i % 3) * 2}"`,
            ),
          )
          .join('')
      );
    default:
      return '';
  }
}

function artefact(scene: Scene, k: number, colours: ClassColours): string {
  const shape = scene.shapes[k]!;
  switch (shape.value) {
    case CLASS.fold:
      // Tissue lying on itself: the stain twice over, darker and more saturated.
      return path(shape.rings, 'fill="#4a1060" fill-opacity="0.42"');
    case CLASS.ink:
      return path(shape.rings, 'fill="#1f4aa8" fill-opacity="0.85"');
    case CLASS.blur:
      // Out of focus (a blurred copy of the texture lies below): soften whatever is drawn over it too.
      return path(shape.rings, `fill="${colours[tissueUnder(scene, k)] ?? '#b48cc8'}" fill-opacity="0.3"`);
    default:
      return shape.name.startsWith('bubble') ? bubble(shape) : path(shape.rings, 'fill="#3b2631" fill-opacity="0.9"');
  }
}

/** Tissue class at the shape's box centre, from the tissue shapes painted before it. */
function tissueUnder(scene: Scene, k: number): number {
  const [x0, y0, x1, y1] = ringBounds(scene.shapes[k]!.rings[0]!);
  const before = scene.shapes.slice(0, k).filter((s) => TISSUE.has(s.value));
  return classAtPoint(before, (x0 + x1) / 2, (y0 + y1) / 2) || CLASS.parenchyma;
}

/** An air bubble: a little brighter inside, with a dark refractile rim just inside its outline. */
function bubble(shape: SceneShape): string {
  const [x0, , x1] = ringBounds(shape.rings[0]!);
  const rim = Math.max(3, (x1 - x0) * 0.03);
  return (
    path(shape.rings, 'fill="#ffffff" fill-opacity="0.3"') +
    path(shape.rings, `fill="none" stroke="#ffffff" stroke-opacity="0.5" stroke-width="${rim * 3.2}"`) +
    path(shape.rings, `fill="none" stroke="#2c2a33" stroke-opacity="0.85" stroke-width="${rim * 2}"`)
  );
}
