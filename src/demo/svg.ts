/**
 * SVG layers of a slide, rendered by librsvg as libvips asks for them (flat fills and strokes
 * only: librsvg redraws image patterns for every 2000 px render tile, which is far too slow).
 *
 * A shape is only partly visible when later tissue shapes cover it, so every drawing is clipped
 * to its shape and to the complement of each later tissue shape (nested clip groups intersect).
 * Artefacts are drawn last, in scene order, over whatever tissue lies under them.
 * One SVG covers one column piece of the slide (librsvg renders at most 32767 px a side).
 */
import { fatCells, fibreRings } from './decor.js';
import { ringBounds, ringInside, type Bounds, type Ring } from './geometry.js';
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

/** Mean colour of each tissue class as rendered, for washes that must blend in (blur). */
export type ClassColours = Record<number, string>;

const TISSUE = new Set<number>([CLASS.metastasis, CLASS.parenchyma, CLASS.adipose, CLASS.connective]);

/** Rings as one path: "M x y ... Z" per ring (filled even-odd by the caller). */
export function pathData(rings: readonly Ring[]): string {
  const parts: string[] = [];
  for (const ring of rings) {
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

  /** `content` limited to shape k and to what no later tissue shape covers. */
  visible(k: number, content: string, clipToShape: boolean): string {
    let out = clipToShape ? this.group(`in-${k}`, this.scene.shapes[k]!.rings, content, false) : content;
    this.scene.shapes.forEach((later, j) => {
      if (j <= k || !TISSUE.has(later.value) || !overlaps(this.bounds[j]!, this.bounds[k]!)) return;
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
      `<defs>${[...this.defs.values()].join('')}</defs>${body}</svg>`,
    ].join('');
  }
}

function containersOf(scene: Scene, bounds: Bounds[]): number[][] {
  return scene.shapes.map((inner, j) => {
    if (!TISSUE.has(inner.value)) return [];
    const list: number[] = [];
    scene.shapes.forEach((outer, i) => {
      const [a, b] = [bounds[i]!, bounds[j]!];
      const boxInside = a[0] <= b[0] && a[1] <= b[1] && a[2] >= b[2] && a[3] >= b[3];
      if (i !== j && TISSUE.has(outer.value) && outer.rings.length === 1 && boxInside && ringInside(inner.rings[0]!, outer.rings[0]!)) list.push(i);
    });
    return list;
  });
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
  const clips = new Clips(scene);
  const box = pieceBounds(piece);
  const body = scene.shapes
    .map((s, k) => (s.value === CLASS.metastasis && overlaps(ringBounds(s.rings[0]!), box) ? clips.visible(k, path(s.rings, 'fill="#000"'), false) : ''))
    .join('');
  return clips.svg(piece, body);
}

/** Tissue detail (fat membranes, fibres) then artefacts, over the textured tissue. */
export function overlaySvg(scene: Scene, piece: Piece, seed: number, colours: ClassColours): string {
  const clips = new Clips(scene);
  const box = pieceBounds(piece);
  const body: string[] = [];
  scene.shapes.forEach((shape, k) => {
    if (!overlaps(ringBounds(shape.rings[0]!), box)) return;
    // One generator per shape, so every piece draws the same detail where pieces meet.
    const rng = createRng(seed ^ hashString(`${scene.id}/${k}`));
    const drawing = TISSUE.has(shape.value) ? detail(shape, rng) : artefact(scene, k, colours);
    if (drawing) body.push(clips.visible(k, drawing, true));
  });
  return clips.svg(piece, body.join(''));
}

function detail(shape: SceneShape, rng: Rng): string {
  if (shape.value === CLASS.adipose) {
    return path(fatCells(shape.rings[0]!, rng), 'fill="none" stroke="#d98cbb" stroke-opacity="0.85" stroke-width="3.5"');
  }
  if (shape.value === CLASS.connective) {
    const fibres = fibreRings(shape.rings[0]!, rng, shape.name === 'capsule');
    return fibres
      .map((r, i) => path([r], `fill="none" stroke="${i % 2 ? '#c96d9f' : '#dc8fb8'}" stroke-opacity="0.6" stroke-width="${3 + (i % 3) * 2}"`))
      .join('');
  }
  return '';
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
      // Out of focus: detail washed out toward the mean colour of the tissue underneath.
      return path(shape.rings, `fill="${colours[tissueUnder(scene, k)] ?? '#b48cc8'}" fill-opacity="0.72"`);
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
