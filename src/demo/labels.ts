/**
 * The scene's labels in the real formats (pure: text or pixels out, no I/O):
 * ASAP XML (Camelyon16 lesion style, or groups named after taxonomy classes), QuPath GeoJSON,
 * 8-bit label masks and RGB colour masks. Masks are rasterised exactly (pixel centre, even-odd,
 * later shapes win), so they agree bit for bit with the vector files read at the same downsample.
 */
import { signedArea, type Ring } from './geometry.js';
import { rasterizeShapes } from './rasterize.js';
import type { Scene, SceneShape } from './scene.js';
import { CLASS, classEntry, demoTaxonomy, hexToRgb } from './taxonomy.js';

/** Level-0 pixels per mask pixel for both mask formats. */
export const MASK_DOWNSAMPLE = 16;

export interface AsapAnnotation {
  name: string;
  group: string;
  color: string;
  ring: Ring;
}

export interface AsapGroup {
  name: string;
  color: string;
}

const esc = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** An ASAP_Annotations document, laid out as ASAP itself writes it. */
export function asapXml(annotations: readonly AsapAnnotation[], groups: readonly AsapGroup[]): string {
  const lines = ['<?xml version="1.0"?>', '<ASAP_Annotations>', '\t<Annotations>'];
  for (const a of annotations) {
    lines.push(
      `\t\t<Annotation Name="${esc(a.name)}" Type="Polygon" PartOfGroup="${esc(a.group)}" Color="${a.color}">`,
      '\t\t\t<Coordinates>',
    );
    for (let i = 0; i + 1 < a.ring.length; i += 2) {
      lines.push(`\t\t\t\t<Coordinate Order="${i / 2}" X="${a.ring[i]}" Y="${a.ring[i + 1]}" />`);
    }
    lines.push('\t\t\t</Coordinates>', '\t\t</Annotation>');
  }
  lines.push('\t</Annotations>', '\t<AnnotationGroups>');
  for (const g of groups) {
    lines.push(
      `\t\t<Group Name="${esc(g.name)}" PartOfGroup="None" Color="${g.color}">`,
      '\t\t\t<Attributes />',
      '\t\t</Group>',
    );
  }
  lines.push('\t</AnnotationGroups>', '</ASAP_Annotations>', '');
  return lines.join('\n');
}

/**
 * Camelyon16's official lesion XML: tumours in group `_0`, holes cut out of them in group `_2`
 * (listed after all tumours, as in the real files).
 */
export function lesionXml(shapes: readonly SceneShape[]): string {
  const tumours = shapes.filter((s) => s.value === CLASS.metastasis);
  const outer = tumours.map((s) => ({ group: '_0', color: '#F4FA58', ring: s.rings[0]! }));
  const holes = tumours.flatMap((s) => s.rings.slice(1).map((ring) => ({ group: '_2', color: '#64FE2E', ring })));
  const annotations = [...outer, ...holes].map((a, i) => ({ ...a, name: `Annotation ${i}` }));
  const groups = ['_0', '_1', '_2'].map((name) => ({ name, color: name === '_2' ? '#64FE2E' : '#FF0000' }));
  return asapXml(annotations, groups);
}

/**
 * ASAP XML whose groups are taxonomy class names, one annotation per shape in scene order.
 * ASAP has no holes, so only outer rings are written: the scene refills any hole it needs.
 */
export function contextXml(shapes: readonly SceneShape[]): string {
  const annotations = shapes.map((s) => ({
    name: s.name,
    group: classEntry(s.value).name,
    color: classEntry(s.value).color,
    ring: s.rings[0]!,
  }));
  const used = [...new Set(shapes.map((s) => s.value))].sort((a, b) => a - b);
  return asapXml(
    annotations,
    used.map((v) => ({ name: classEntry(v).name, color: classEntry(v).color })),
  );
}

/** GeoJSON rings are closed explicitly; outer counter-clockwise, holes clockwise (RFC 7946). */
function geoRing(ring: Ring, outer: boolean): number[][] {
  const pts: number[][] = [];
  for (let i = 0; i + 1 < ring.length; i += 2) pts.push([ring[i]!, ring[i + 1]!]);
  if (signedArea(ring) > 0 !== outer) pts.reverse();
  pts.push([...pts[0]!]);
  return pts;
}

/**
 * A QuPath-style FeatureCollection of every shape, in scene (painting) order. Consecutive shapes
 * of one class become one feature: a Polygon, or a MultiPolygon when the class is split.
 */
export function qupathGeoJson(scene: Scene): string {
  const runs: SceneShape[][] = [];
  for (const s of scene.shapes) {
    const last = runs[runs.length - 1];
    if (last && last[0]!.value === s.value) last.push(s);
    else runs.push([s]);
  }
  const features = runs.map((run, k) => {
    const entry = classEntry(run[0]!.value);
    const polygons = run.map((s) => s.rings.map((r, i) => geoRing(r, i === 0)));
    const geometry =
      polygons.length === 1
        ? { type: 'Polygon', coordinates: polygons[0] }
        : { type: 'MultiPolygon', coordinates: polygons };
    return {
      type: 'Feature',
      id: `${scene.id}-${k}`,
      geometry,
      properties: {
        objectType: 'annotation',
        name: run.map((s) => s.name).join(', '),
        classification: { name: entry.name, color: hexToRgb(entry.color) },
      },
    };
  });
  return `${JSON.stringify({ type: 'FeatureCollection', features })}\n`;
}

export interface MaskRaster {
  width: number;
  height: number;
  /** One class value per pixel, row-major. */
  values: Uint8Array;
}

export function maskSize(scene: Scene, d = MASK_DOWNSAMPLE): { width: number; height: number } {
  return { width: Math.ceil(scene.width / d), height: Math.ceil(scene.height / d) };
}

/** Label values of the given shapes at the mask downsample (0 where none of them lies). */
export function labelMask(scene: Scene, shapes: readonly SceneShape[], d = MASK_DOWNSAMPLE): MaskRaster {
  const { width, height } = maskSize(scene, d);
  return { width, height, values: rasterizeShapes(shapes, width, height, d) };
}

/** RGB bytes of a label mask in the taxonomy colours (black = unlabelled). */
export function colourise(mask: MaskRaster): Buffer {
  const palette = new Map(demoTaxonomy.map((t) => [t.value, hexToRgb(t.color)]));
  const rgb = Buffer.alloc(mask.values.length * 3);
  mask.values.forEach((v, i) => {
    const c = palette.get(v) ?? [0, 0, 0];
    rgb[i * 3] = c[0];
    rgb[i * 3 + 1] = c[1];
    rgb[i * 3 + 2] = c[2];
  });
  return rgb;
}
