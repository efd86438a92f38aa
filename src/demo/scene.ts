/**
 * The vector scene of one demo slide (pure, no I/O): a lymph node with its capsule, perinodal fat
 * and septa, real Camelyon16 tumour outlines inside it, and artefacts. Pixels and every label file
 * are drawn from this one list, so they agree by construction; tests compare ingest results to it.
 *
 * Shapes are in painting order (later shapes win). Each shape's rings[0] is its outer boundary and
 * rings[1..] are holes lying inside it (even-odd fill). Coordinates are level-0 pixels on a 0.01 px
 * grid. Some looks are chosen by name: bubbles ("bubble N") versus debris ("debris N") in
 * bubble-debris, concentric fibres on the "capsule", follicles on the "lymph node".
 */
import {
  bandRing,
  blobRing,
  outlineRadius,
  outlineRing,
  randomOutline,
  ringBounds,
  transformRing,
  type Bounds,
  type Outline,
  type Ring,
} from './geometry.js';
import type { TumourPolygonSet } from './polygons.js';
import type { Rng } from './random.js';
import { containsPoint } from './rasterize.js';
import type { SlideSpec } from './slides.js';
import { CLASS } from './taxonomy.js';

export interface SceneShape {
  /** Taxonomy value painted inside the shape. */
  value: number;
  rings: Ring[];
  name: string;
}

export interface Scene {
  id: string;
  width: number;
  height: number;
  mpp: number;
  shapes: SceneShape[];
}

interface LymphNode {
  cx: number;
  cy: number;
  rx: number;
  ry: number;
  outline: Outline;
  ring: Ring;
  /** Capsule thickness in pixels. */
  capsule: number;
}

export function buildScene(spec: SlideSpec, rng: Rng, polygons: TumourPolygonSet): Scene {
  const node = makeNode(spec, rng.fork('node'));
  const tissue = tissueShapes(spec, node, rng.fork('tissue'));
  const tumours = tumourShapes(spec, node, polygons, rng.fork('tumours'));
  const tumourBox = tumours.length > 0 ? unionBounds(tumours.map((t) => ringBounds(t.rings[0]!))) : null;
  const artefacts = artefactShapes(spec, node, tumourBox, rng.fork('artefacts'));
  const ordered =
    spec.layout === 'mask+lesions' ? [...tissue, ...artefacts, ...tumours] : [...tissue, ...tumours, ...artefacts];
  const shapes = ordered.map((s) => ({ ...s, rings: s.rings.map((r) => clampRing(r, spec.width, spec.height)) }));
  return { id: spec.id, width: spec.width, height: spec.height, mpp: spec.mpp, shapes };
}

function makeNode(spec: SlideSpec, rng: Rng): LymphNode {
  const { width: w, height: h } = spec;
  const cx = w * (0.5 + rng.range(-0.03, 0.03));
  const cy = h * (0.5 + rng.range(-0.03, 0.03));
  const rx = w * 0.33;
  const ry = h * 0.33;
  const outline = randomOutline(rng, 5, 0.08);
  return { cx, cy, rx, ry, outline, ring: outlineRing(outline, cx, cy, rx, ry, 360), capsule: Math.min(w, h) * 0.016 };
}

/** Point at angle t on the node outline, pushed out (factor > 1) or in (< 1). */
function nodePoint(node: LymphNode, t: number, factor: number): [number, number] {
  const r = outlineRadius(node.outline, t) * factor;
  return [node.cx + Math.cos(t) * node.rx * r, node.cy + Math.sin(t) * node.ry * r];
}

function tissueShapes(spec: SlideSpec, node: LymphNode, rng: Rng): SceneShape[] {
  const fatAngle = rng.range(0, 2 * Math.PI);
  const fat = (t: number, factor: number, size: number, name: string): SceneShape => {
    const [x, y] = nodePoint(node, t, factor);
    const [rx, ry] = [node.rx * size, node.ry * size * 0.9];
    const cx = Math.min(Math.max(x, rx * 1.35), spec.width - rx * 1.35);
    const cy = Math.min(Math.max(y, ry * 1.35), spec.height - ry * 1.35);
    return { value: CLASS.adipose, rings: [blobRing(rng, cx, cy, rx, ry, 0.1, 180)], name };
  };
  const shapes: SceneShape[] = [
    fat(fatAngle, 0.95, 0.45, 'perinodal fat'),
    fat(fatAngle + Math.PI * 0.7, 1.2, 0.14, 'fat island'),
    {
      value: CLASS.connective,
      rings: [outlineRing(node.outline, node.cx, node.cy, node.rx, node.ry, 360, node.capsule)],
      name: 'capsule',
    },
    { value: CLASS.parenchyma, rings: [node.ring], name: 'lymph node' },
  ];
  for (let k = 0; k < 2; k++) {
    shapes.push({ value: CLASS.connective, rings: [septum(node, rng)], name: `septum ${k + 1}` });
  }
  return shapes;
}

/** A tapered connective-tissue band from the capsule a third of the way into the node. */
function septum(node: LymphNode, rng: Rng): Ring {
  const t = rng.range(0, 2 * Math.PI);
  const wiggle = rng.range(-0.05, 0.05);
  const points: Array<[number, number]> = [];
  for (let i = 0; i <= 10; i++) {
    const f = 1.01 - (0.33 * i) / 10;
    points.push(nodePoint(node, t + wiggle * Math.sin((Math.PI * i) / 10), f));
  }
  return bandRing(points, node.capsule * 0.7, true);
}

/** Real outlines scaled into the node; shrunk until every vertex lies well inside it. */
function tumourShapes(spec: SlideSpec, node: LymphNode, set: TumourPolygonSet, rng: Rng): SceneShape[] {
  if (set.polygons.length === 0) return [];
  const [x0, y0, x1, y1] = unionBounds(set.polygons.map((p) => ringBounds(p.outer)));
  const inner = outlineRing(node.outline, node.cx, node.cy, node.rx * 0.9, node.ry * 0.9, 360);
  const tx = node.cx + node.rx * rng.range(-0.08, 0.08);
  const ty = node.cy + node.ry * rng.range(-0.08, 0.08);
  let scale = Math.min((node.rx * 1.1) / (x1 - x0), (node.ry * 1.1) / (y1 - y0));
  const place = (r: Ring): Ring => transformRing(r, scale, tx - ((x0 + x1) / 2) * scale, ty - ((y0 + y1) / 2) * scale);
  for (let attempt = 0; attempt < 12 && !set.polygons.every((p) => ringWithin(place(p.outer), inner)); attempt++) {
    scale *= 0.9;
  }
  return set.polygons.flatMap((p) => {
    const tumour: SceneShape = {
      value: CLASS.metastasis,
      rings: [place(p.outer), ...p.holes.map(place)],
      name: `metastasis ${p.name}`,
    };
    if (spec.layout !== 'colour+context') return [tumour];
    const refills = p.holes.map((h, k) => ({
      value: CLASS.parenchyma,
      rings: [place(h)],
      name: `${tumour.name} hole ${k + 1}`,
    }));
    return [tumour, ...refills];
  });
}

function ringWithin(ring: Ring, container: Ring): boolean {
  for (let i = 0; i + 1 < ring.length; i += 2) {
    if (!containsPoint([container], ring[i]!, ring[i + 1]!)) return false;
  }
  return true;
}

function artefactShapes(spec: SlideSpec, node: LymphNode, avoid: Bounds | null, rng: Rng): SceneShape[] {
  const m = Math.min(spec.width, spec.height);
  const spot = (inner: number, clearance: number): [number, number] => spotInNode(node, rng, inner, avoid, clearance);
  const shapes: SceneShape[] = [];
  shapes.push({ value: CLASS.fold, rings: [fold(node, rng, spot(0.45, m * 0.15), m)], name: 'fold' });
  const [bx, by] = spot(0.55, m * 0.1);
  shapes.push({ value: CLASS.blur, rings: [blobRing(rng, bx, by, m * 0.06, m * 0.045, 0.12)], name: 'blur' });
  const [ix, iy] = nodePoint(node, rng.range(0, 2 * Math.PI), 1.02);
  shapes.push({ value: CLASS.ink, rings: [blobRing(rng, ix, iy, m * 0.05, m * 0.03, 0.2, 120)], name: 'ink' });
  const [b1x, b1y] = nodePoint(node, rng.range(0, 2 * Math.PI), 1.0);
  const [b2x, b2y] = spot(0.6, m * 0.03);
  shapes.push({
    value: CLASS.bubbleDebris,
    rings: [blobRing(rng, b1x, b1y, m * 0.035, m * 0.035, 0, 128)],
    name: 'bubble 1',
  });
  shapes.push({
    value: CLASS.bubbleDebris,
    rings: [blobRing(rng, b2x, b2y, m * 0.02, m * 0.02, 0, 96)],
    name: 'bubble 2',
  });
  for (let k = 0; k < 5; k++) {
    const [x, y] = k < 3 ? nodePoint(node, rng.range(0, 2 * Math.PI), rng.range(1.12, 1.3)) : spot(0.8, 0);
    const r = m * rng.range(0.003, 0.008);
    shapes.push({
      value: CLASS.bubbleDebris,
      rings: [blobRing(rng, x, y, r, r * rng.range(0.5, 1), 0.35, 24)],
      name: `debris ${k + 1}`,
    });
  }
  return shapes;
}

/** A gently bent, tapered band: tissue folded over itself. */
function fold(node: LymphNode, rng: Rng, [cx, cy]: [number, number], m: number): Ring {
  const dir = rng.range(0, Math.PI);
  const half = Math.min(node.rx, node.ry) * 0.3;
  const sag = half * rng.range(-0.25, 0.25);
  const points: Array<[number, number]> = [];
  for (let i = 0; i <= 12; i++) {
    const s = (i / 12) * 2 - 1;
    const bend = sag * (1 - s * s);
    points.push([
      cx + Math.cos(dir) * s * half - Math.sin(dir) * bend,
      cy + Math.sin(dir) * s * half + Math.cos(dir) * bend,
    ]);
  }
  return bandRing(points, m * 0.02, true);
}

/** A random point inside the node (within `inner` of its radius), away from the tumours if possible. */
function spotInNode(
  node: LymphNode,
  rng: Rng,
  inner: number,
  avoid: Bounds | null,
  clearance: number,
): [number, number] {
  let p: [number, number] = [node.cx, node.cy];
  for (let attempt = 0; attempt < 60; attempt++) {
    // Reach further out the longer the tumours are in the way.
    const reach = inner + ((0.85 - inner) * attempt) / 60;
    p = nodePoint(node, rng.range(0, 2 * Math.PI), reach * Math.sqrt(rng.next()));
    if (!avoid) break;
    const [x0, y0, x1, y1] = avoid;
    const near = p[0] > x0 - clearance && p[0] < x1 + clearance && p[1] > y0 - clearance && p[1] < y1 + clearance;
    if (!near) break;
  }
  return p;
}

function unionBounds(list: Bounds[]): Bounds {
  return list.reduce<Bounds>(
    (a, b) => [Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.max(a[2], b[2]), Math.max(a[3], b[3])],
    [Infinity, Infinity, -Infinity, -Infinity],
  );
}

/** Keeps every vertex on the slide (pieces of fat or debris may reach past its edge). */
function clampRing(ring: Ring, width: number, height: number): Ring {
  const out = new Float64Array(ring.length);
  for (let i = 0; i + 1 < ring.length; i += 2) {
    out[i] = Math.min(Math.max(ring[i]!, 0), width);
    out[i + 1] = Math.min(Math.max(ring[i + 1]!, 0), height);
  }
  return out;
}
