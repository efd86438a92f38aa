/**
 * Reader for QuPath-style GeoJSON annotations: Polygon / MultiPolygon features classified by
 * `properties.classification.name`, coordinates in level-0 pixels. Pure: text in, shapes out,
 * AppError (and nothing else) on anything it cannot accept.
 */
import { invalidInput } from '../errors.js';
import { hasThreeDistinctPoints, type ClassResolver, type LabelShape, type Ring } from './shapes.js';

export interface GeoJsonReadOptions {
  /** Most vertices the whole file may hold over its polygon rings (default 5,000,000). */
  maxVertices?: number;
}

const DEFAULT_MAX_VERTICES = 5_000_000;
/** GeometryCollections nest; real files never go deep, hostile ones could exhaust the stack. */
const MAX_COLLECTION_DEPTH = 16;
/** Geometries that are valid but enclose no area: nothing to paint. */
const NO_AREA_TYPES = new Set(['Point', 'MultiPoint', 'LineString', 'MultiLineString']);

type JsonObject = Record<string, unknown>;
interface Budget {
  used: number;
  max: number;
}
/** A feature being read: its position in the file and how messages name it. */
interface FeatureRef {
  index: number;
  label: string;
}

/** Reads a GeoJSON document into one shape per polygon, in document order. */
export function parseGeoJson(text: string, resolve: ClassResolver, opts: GeoJsonReadOptions = {}): LabelShape[] {
  const features = featureList(parseJson(text));
  const budget: Budget = { used: 0, max: opts.maxVertices ?? DEFAULT_MAX_VERTICES };
  const shapes: LabelShape[] = [];
  features.forEach((feature, index) => {
    for (const shape of readFeature(feature, index, resolve, budget)) shapes.push(shape);
  });
  return shapes;
}

function parseJson(text: string): unknown {
  if (typeof text !== 'string') throw invalidInput('JSON_MALFORMED', 'the annotation file is not text');
  try {
    return JSON.parse(text);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw invalidInput('JSON_MALFORMED', `not valid JSON: ${clip(why, 200)}`);
  }
}

/** Accepts a FeatureCollection, a bare array of features, or a single Feature. */
function featureList(doc: unknown): JsonObject[] {
  let list: unknown[];
  if (Array.isArray(doc)) list = doc;
  else if (isObject(doc) && doc['type'] === 'FeatureCollection' && Array.isArray(doc['features'])) {
    list = doc['features'];
  } else if (isObject(doc) && doc['type'] === 'Feature') list = [doc];
  else {
    throw invalidInput(
      'GEOJSON_NOT_FEATURES',
      'expected a GeoJSON FeatureCollection, an array of Features or a Feature',
    );
  }
  return list.map((f, i) => {
    if (isObject(f) && f['type'] === 'Feature') return f;
    throw invalidInput('GEOJSON_NOT_FEATURES', `feature ${i} is not a GeoJSON Feature object`);
  });
}

function readFeature(feature: JsonObject, index: number, resolve: ClassResolver, budget: Budget): LabelShape[] {
  const id = feature['id'];
  const hasId = (typeof id === 'string' && id !== '') || typeof id === 'number';
  const name = hasId ? String(id) : `feature ${index}`;
  const ref: FeatureRef = { index, label: hasId ? `feature ${index} (id ${q(name)})` : name };
  if (!('geometry' in feature)) bad(ref, 'it has no geometry member');
  const polygons: unknown[] = [];
  collectPolygons(feature['geometry'], ref, 0, polygons);
  if (polygons.length === 0) return []; // points, lines, null geometry: no area, no class needed
  const ringSets = polygons.map((p, k) => readPolygon(p, ref, polygons.length > 1 ? k : -1, budget));
  const value = classify(feature['properties'], ref, resolve);
  return ringSets.map((rings) => ({ value, rings, name }));
}

/** Gathers the coordinate arrays of every polygon the geometry holds, in order. */
function collectPolygons(geometry: unknown, ref: FeatureRef, depth: number, out: unknown[]): void {
  if (geometry === null) return; // GeoJSON's "unlocated" feature
  if (!isObject(geometry)) bad(ref, 'its geometry is not an object');
  const type = geometry['type'];
  const typeName = typeof type === 'string' ? type : '';
  if (NO_AREA_TYPES.has(typeName)) return;
  if (typeName === 'GeometryCollection') {
    const members = geometry['geometries'];
    if (!Array.isArray(members)) bad(ref, 'its GeometryCollection has no geometries array');
    if (depth >= MAX_COLLECTION_DEPTH) bad(ref, `GeometryCollections nest deeper than ${MAX_COLLECTION_DEPTH}`);
    for (const member of members) collectPolygons(member, ref, depth + 1, out);
    return;
  }
  if (typeName !== 'Polygon' && typeName !== 'MultiPolygon') {
    bad(ref, `its geometry type ${q(typeof type === 'string' ? type : String(type))} is not a GeoJSON geometry`);
  }
  const coords = geometry['coordinates'];
  if (!Array.isArray(coords)) bad(ref, `its ${typeName} has no coordinates array`);
  if (typeName === 'Polygon') {
    if (coords.length > 0) out.push(coords); // an empty Polygon is a valid empty geometry
  } else {
    for (const polygon of coords) out.push(polygon);
  }
}

/** One polygon's rings: the first is the outer boundary, the rest are holes (even-odd fill). */
function readPolygon(polygon: unknown, ref: FeatureRef, part: number, budget: Budget): Ring[] {
  const where = part >= 0 ? `polygon ${part}` : 'polygon';
  if (!Array.isArray(polygon) || polygon.length === 0) {
    bad(ref, `${where} is not an array of rings (coordinates nested at the wrong depth?)`);
  }
  return polygon.map((ring, r) => readRing(ring, ref, `${where}, ring ${r}`, budget));
}

function readRing(ring: unknown, ref: FeatureRef, where: string, budget: Budget): Ring {
  if (!Array.isArray(ring)) bad(ref, `${where} is not an array of positions (coordinates nested at the wrong depth?)`);
  let n = ring.length;
  // GeoJSON repeats the first position to close a ring; the Ring type closes implicitly.
  if (n >= 2 && samePosition(ring[0], ring[n - 1])) n--;
  budget.used += n;
  if (budget.used > budget.max) {
    throw invalidInput(
      'TOO_MANY_VERTICES',
      `${ref.label} brings the file to ${budget.used} vertices, over the limit of ${budget.max}`,
    );
  }
  const xy = new Float64Array(2 * n);
  for (let i = 0; i < n; i++) {
    const p: unknown = ring[i];
    const x = Array.isArray(p) ? p[0] : undefined;
    const y = Array.isArray(p) ? p[1] : undefined;
    if (typeof x !== 'number' || typeof y !== 'number' || !Number.isFinite(x) || !Number.isFinite(y)) {
      bad(ref, `${where}, position ${i} is not a pair of finite numbers${depthHint(p)}`);
    }
    xy[2 * i] = x;
    xy[2 * i + 1] = y;
  }
  if (!hasThreeDistinctPoints(xy)) bad(ref, `${where} has fewer than 3 distinct points, so no area`);
  return xy;
}

/** The class name QuPath writes, or the simpler keys other tools use; undefined when none. */
function featureClassName(properties: unknown): string | undefined {
  if (!isObject(properties)) return undefined;
  const c = properties['classification'];
  if (isObject(c)) {
    if (isNonEmptyString(c['name'])) return c['name'];
    // QuPath writes derived classes ("Tumor: Positive") as a `names` list instead of `name`.
    const names = c['names'];
    if (Array.isArray(names) && names.length > 0 && names.every(isNonEmptyString)) return names.join(': ');
  }
  if (isNonEmptyString(c)) return c;
  for (const key of ['class', 'label']) {
    const v = properties[key];
    if (isNonEmptyString(v)) return v;
  }
  return undefined;
}

function classify(properties: unknown, ref: FeatureRef, resolve: ClassResolver): number | null {
  const className = featureClassName(properties);
  if (className === undefined) {
    throw invalidInput(
      'GEOJSON_NO_CLASS',
      `${ref.label} has no class (properties.classification.name, .classification, .class or .label)`,
    );
  }
  const value = resolve(className);
  if (value === undefined) {
    throw invalidInput('UNKNOWN_CLASS', `class ${q(className)} of ${ref.label} is not a known class`);
  }
  return value;
}

/** Names the usual cause when a position is a bare number or a list of positions. */
function depthHint(p: unknown): string {
  if (typeof p === 'number') return ' (coordinates nested one level too shallow?)';
  return Array.isArray(p) && Array.isArray(p[0]) ? ' (coordinates nested too deep?)' : '';
}

function samePosition(a: unknown, b: unknown): boolean {
  return Array.isArray(a) && Array.isArray(b) && a[0] === b[0] && a[1] === b[1];
}

function bad(ref: FeatureRef, what: string): never {
  throw invalidInput('GEOJSON_BAD_GEOMETRY', `${ref.label}: ${what}`);
}

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isNonEmptyString(v: unknown): v is string {
  return typeof v === 'string' && v !== '';
}

function clip(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max)}...` : s;
}

/** Quotes a name from the file for a message, bounded so a huge string cannot flood logs. */
function q(s: string): string {
  return JSON.stringify(clip(s, 80));
}
