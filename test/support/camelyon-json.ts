/**
 * Turns the real Camelyon16 tumour polygons (fixtures/real/camelyon16/tumor-polygons, a simple JSON
 * a published project converted from the official ASAP XML) back into the formats the readers
 * accept: ASAP XML laid out like Camelyon16's official files, and QuPath GeoJSON.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The shared fixtures next to the repository (test/support/ is two levels below its root). */
export const CAMELYON_POLYGONS_DIR = fileURLToPath(
  new URL('../../../shared/fixtures/real/camelyon16/tumor-polygons', import.meta.url),
);

export interface CamelyonPolygon {
  name: string;
  vertices: Array<[number, number]>;
}

/** `positive`: tumour outlines (groups _0/_1); `negative`: regions cut out of them (group _2). */
export interface CamelyonPolygonsJson {
  positive: CamelyonPolygon[];
  negative: CamelyonPolygon[];
}

export interface AsapXmlOptions {
  /** Group of the positive polygons (default `_0`); declared if it is not one of _0, _1, _2. */
  positiveGroup?: string;
  /** Group of the negative polygons (default `_2`). */
  negativeGroup?: string;
  /** Write X/Y with a decimal comma, as ASAP does under some locales. */
  decimalComma?: boolean;
  /** Write each annotation's coordinates in reverse document order (Order attributes unchanged). */
  reverseCoordinates?: boolean;
}

export interface GeoJsonOptions {
  /** Class of negative polygons no positive polygon contains (default `Exclusion`). */
  holeClass?: string;
}

/** Loads one fixture, e.g. `loadCamelyonJson('Tumor_034')`. */
export function loadCamelyonJson(stem: string): CamelyonPolygonsJson {
  return JSON.parse(readFileSync(join(CAMELYON_POLYGONS_DIR, `${stem}.json`), 'utf8')) as CamelyonPolygonsJson;
}

/** Colours of the official files: yellow tumour, green exclusion; red/green groups. */
const ANNOTATION_COLOUR = { positive: '#F4FA58', negative: '#64FE2E' } as const;
const GROUP_COLOURS: Record<string, string> = { _0: '#FF0000', _1: '#FF0000', _2: '#00FF00' };

export function camelyonJsonToAsapXml(json: CamelyonPolygonsJson, opts: AsapXmlOptions = {}): string {
  const positiveGroup = opts.positiveGroup ?? '_0';
  const negativeGroup = opts.negativeGroup ?? '_2';
  const out: string[] = ['<?xml version="1.0"?>', '<ASAP_Annotations>', '\t<Annotations>'];
  const emit = (p: CamelyonPolygon, group: string, colour: string): void => {
    out.push(
      `\t\t<Annotation Name="${xmlEscape(p.name)}" Type="Polygon" PartOfGroup="${xmlEscape(group)}" Color="${colour}">`,
      '\t\t\t<Coordinates>',
    );
    const lines = p.vertices.map(
      ([x, y], order) => `\t\t\t\t<Coordinate Order="${order}" X="${num(x, opts)}" Y="${num(y, opts)}" />`,
    );
    if (opts.reverseCoordinates) lines.reverse();
    out.push(...lines, '\t\t\t</Coordinates>', '\t\t</Annotation>');
  };
  for (const p of json.positive) emit(p, positiveGroup, ANNOTATION_COLOUR.positive);
  for (const p of json.negative) emit(p, negativeGroup, ANNOTATION_COLOUR.negative);
  out.push('\t</Annotations>', '\t<AnnotationGroups>');
  const groups = new Set(['_0', '_1', '_2', positiveGroup, negativeGroup]);
  for (const g of groups) {
    out.push(
      `\t\t<Group Name="${xmlEscape(g)}" PartOfGroup="None" Color="${GROUP_COLOURS[g] ?? '#0000FF'}">`,
      '\t\t\t<Attributes />',
      '\t\t</Group>',
    );
  }
  out.push('\t</AnnotationGroups>', '</ASAP_Annotations>', '');
  return out.join('\n');
}

/**
 * QuPath GeoJSON: one Polygon feature per positive polygon (class `className`), with every
 * negative polygon lying inside it as a hole ring, as QuPath exports a tumour with holes.
 * A negative polygon inside no positive one becomes its own feature of class `holeClass`.
 */
export function camelyonJsonToGeoJson(
  json: CamelyonPolygonsJson,
  className: string,
  opts: GeoJsonOptions = {},
): string {
  const holes: CamelyonPolygon[][] = json.positive.map(() => []);
  const loose: CamelyonPolygon[] = [];
  for (const n of json.negative) {
    const first = n.vertices[0];
    const owner = first ? json.positive.findIndex((p) => pointInRing(first, p.vertices)) : -1;
    if (owner >= 0) holes[owner]!.push(n);
    else loose.push(n);
  }
  const features = [
    ...json.positive.map((p, i) => feature(p, [p, ...holes[i]!], className)),
    ...loose.map((n) => feature(n, [n], opts.holeClass ?? 'Exclusion')),
  ];
  return JSON.stringify({ type: 'FeatureCollection', features });
}

function feature(named: CamelyonPolygon, rings: CamelyonPolygon[], className: string): object {
  return {
    type: 'Feature',
    id: named.name,
    geometry: { type: 'Polygon', coordinates: rings.map((r) => closeRing(r.vertices)) },
    properties: {
      objectType: 'annotation',
      isLocked: false,
      classification: { name: className, color: [255, 0, 0] },
    },
  };
}

/** GeoJSON rings repeat their first position at the end. */
function closeRing(vertices: Array<[number, number]>): Array<[number, number]> {
  const first = vertices[0];
  return first ? [...vertices, first] : [];
}

/** Even-odd ray casting; enough to find which tumour outline holds a hole. */
function pointInRing([x, y]: [number, number], ring: Array<[number, number]>): boolean {
  let inside = false;
  for (let i = 0, k = ring.length - 1; i < ring.length; k = i++) {
    const [xi, yi] = ring[i]!;
    const [xk, yk] = ring[k]!;
    if (yi > y !== yk > y && x < ((xk - xi) * (y - yi)) / (yk - yi) + xi) inside = !inside;
  }
  return inside;
}

function num(v: number, opts: AsapXmlOptions): string {
  const s = String(v);
  return opts.decimalComma ? s.replace('.', ',') : s;
}

function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
