/**
 * Reader for ASAP XML annotation files (the format of the Camelyon16 lesion annotations):
 * `ASAP_Annotations > Annotations > Annotation > Coordinates > Coordinate[Order, X, Y]` plus
 * `AnnotationGroups > Group[Name, PartOfGroup]`. Pure: text in, shapes out, AppError on anything
 * it cannot accept.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { invalidInput } from '../errors.js';
import { hasThreeDistinctPoints, type ClassResolver, type LabelShape } from './shapes.js';

export interface AsapReadOptions {
  /** Most vertices the whole file may hold over its area annotations (default 5,000,000). */
  maxVertices?: number;
}

const DEFAULT_MAX_VERTICES = 5_000_000;
/** Types whose coordinates outline an area; a Spline's control points are read as a polygon. */
const AREA_TYPES = new Set(['Polygon', 'Spline', 'Rectangle']);
/** Types that mark points or lengths: valid in a file, nothing to paint. */
const POINT_TYPES = new Set(['Dot', 'PointSet', 'Measurement']);
/** ASAP writes PartOfGroup="None" for an annotation (or group) outside any group. */
const NO_GROUP = 'None';
/** Decimal number, with a decimal point or (files written under some locales) a comma. */
const NUMBER_RE = /^[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+-]?\d+)?$/;
const ORDER_RE = /^\d{1,15}$/;

type XmlNode = Record<string, unknown>;

/** Reads an ASAP XML document into one shape per area annotation, in document order. */
export function parseAsapXml(text: string, resolve: ClassResolver, opts: AsapReadOptions = {}): LabelShape[] {
  const root = parseDocument(text);
  const groups = readGroups(root);
  const classify = makeClassifier(groups, resolve);
  const budget = { used: 0, max: opts.maxVertices ?? DEFAULT_MAX_VERTICES };
  const shapes: LabelShape[] = [];
  const annotations = childNodes(root, 'Annotations').flatMap((a) => childNodes(a, 'Annotation'));
  annotations.forEach((ann, index) => {
    const shape = readAnnotation(ann, index, classify, budget);
    if (shape) shapes.push(shape);
  });
  return shapes;
}

function parseDocument(text: string): XmlNode {
  if (typeof text !== 'string') throw invalidInput('XML_MALFORMED', 'the annotation file is not text');
  // The parser is lenient by design; validate first so truncated or broken files are rejected
  // instead of yielding a partial annotation set.
  let verdict: ReturnType<typeof XMLValidator.validate>;
  try {
    verdict = XMLValidator.validate(text);
  } catch (e) {
    throw invalidInput('XML_MALFORMED', `XML could not be validated: ${clip(errorMessage(e), 200)}`);
  }
  if (verdict !== true) {
    const { msg, line, col } = verdict.err;
    const where = col === undefined ? `line ${line}` : `line ${line}, column ${col}`;
    throw invalidInput('XML_MALFORMED', `not well-formed XML at ${where}: ${clip(msg, 200)}`);
  }
  let doc: unknown;
  try {
    doc = new XMLParser({
      ignoreAttributes: false,
      attributeNamePrefix: '',
      parseAttributeValue: false, // numbers are parsed here, with decimal-comma support
      parseTagValue: false,
      jPath: false, // isArray only looks at tag names: skip building path strings (~8% faster)
      isArray: (tag, _path, _leaf, isAttribute) =>
        !isAttribute && (tag === 'Annotation' || tag === 'Coordinate' || tag === 'Group'),
    }).parse(text);
  } catch (e) {
    // Entity-expansion limits and similar parser refusals after validation passed.
    throw invalidInput('XML_MALFORMED', `XML could not be parsed: ${clip(errorMessage(e), 200)}`);
  }
  if (!isNode(doc) || !('ASAP_Annotations' in doc)) {
    throw invalidInput('ASAP_NO_ROOT', 'the document has no ASAP_Annotations root element');
  }
  const root = doc['ASAP_Annotations'];
  return isNode(root) ? root : {}; // `<ASAP_Annotations/>` parses as '': an empty file
}

/** Declared groups: name -> parent group name (undefined when the group has no parent). */
function readGroups(root: XmlNode): Map<string, string | undefined> {
  const groups = new Map<string, string | undefined>();
  for (const list of childNodes(root, 'AnnotationGroups')) {
    for (const group of childNodes(list, 'Group')) {
      const name = attr(group, 'Name');
      if (name === undefined || name === '') continue; // unnamed: nothing can refer to it
      const parent = attr(group, 'PartOfGroup');
      groups.set(name, parent === undefined || parent === '' || parent === NO_GROUP ? undefined : parent);
    }
  }
  return groups;
}

type Classifier = (group: string | undefined, annotation: string, hasArea: boolean) => number | null;

/**
 * Checks an annotation's group and maps it to a class value. The undeclared-group check applies
 * to every annotation (ASAP refuses such files whatever the type); classification only to areas.
 */
function makeClassifier(groups: Map<string, string | undefined>, resolve: ClassResolver): Classifier {
  const cache = new Map<string, number | null>();
  return (group, annotation, hasArea) => {
    const ungrouped = group === undefined || group === '' || group === NO_GROUP;
    if (!ungrouped && !groups.has(group)) {
      throw invalidInput(
        'ASAP_UNDECLARED_GROUP',
        `annotation ${q(annotation)} is part of group ${q(group)}, which AnnotationGroups does not declare`,
      );
    }
    if (!hasArea) return null;
    if (ungrouped) {
      const value = resolve(NO_GROUP);
      if (value !== undefined) return value;
      throw invalidInput('ASAP_NO_GROUP', `annotation ${q(annotation)} is in no group, so it has no class`);
    }
    let value = cache.get(group);
    if (value === undefined) {
      value = resolveGroupChain(group, annotation, groups, resolve);
      cache.set(group, value);
    }
    return value;
  };
}

/** Tries the group, then its parent, grandparent ...: nested groups inherit a known class. */
function resolveGroupChain(
  group: string,
  annotation: string,
  groups: Map<string, string | undefined>,
  resolve: ClassResolver,
): number | null {
  const seen: string[] = [];
  let current: string | undefined = group;
  while (current !== undefined && !seen.includes(current)) {
    const value = resolve(current);
    if (value !== undefined) return value;
    seen.push(current);
    const parent = groups.get(current);
    if (parent !== undefined && !groups.has(parent)) {
      throw invalidInput(
        'ASAP_UNDECLARED_GROUP',
        `annotation ${q(annotation)}: its group ${q(current)} is part of group ${q(parent)}, which AnnotationGroups does not declare`,
      );
    }
    current = parent; // a cycle ends the walk: `seen` already holds the repeated group
  }
  const what =
    seen.length > 1
      ? `neither group ${q(group)} nor its parent groups ${seen.slice(1).map(q).join(', ')} is a known class`
      : `group ${q(group)} is not a known class`;
  throw invalidInput('UNKNOWN_CLASS', `annotation ${q(annotation)}: ${what}`);
}

function readAnnotation(
  ann: XmlNode,
  index: number,
  classify: Classifier,
  budget: { used: number; max: number },
): LabelShape | null {
  const name = attr(ann, 'Name') ?? `#${index}`;
  const type = attr(ann, 'Type') ?? '';
  const hasArea = AREA_TYPES.has(type);
  if (!hasArea && !POINT_TYPES.has(type)) {
    throw invalidInput('ASAP_UNKNOWN_TYPE', `annotation ${q(name)} has Type ${q(type)}, not one ASAP defines`);
  }
  const value = classify(attr(ann, 'PartOfGroup'), name, hasArea);
  if (!hasArea) return null;
  const coords = childNodes(ann, 'Coordinates').flatMap((c) => childNodes(c, 'Coordinate'));
  budget.used += coords.length;
  if (budget.used > budget.max) {
    throw invalidInput(
      'TOO_MANY_VERTICES',
      `annotation ${q(name)} brings the file to ${budget.used} vertices, over the limit of ${budget.max}`,
    );
  }
  const ring = readRing(coords, name);
  if (!hasThreeDistinctPoints(ring)) {
    throw invalidInput(
      'ASAP_TOO_FEW_POINTS',
      `annotation ${q(name)} has fewer than 3 distinct points (${coords.length} coordinates), so no area`,
    );
  }
  return { value, rings: [ring], name };
}

/** Parses the coordinates and lays them out by their Order attribute. */
function readRing(coords: XmlNode[], name: string): Float64Array {
  const n = coords.length;
  const orders = new Float64Array(n);
  const xy = new Float64Array(2 * n);
  let sorted = true;
  for (let i = 0; i < n; i++) {
    const c = coords[i]!;
    const orderText = attr(c, 'Order');
    if (orderText === undefined || !ORDER_RE.test(orderText)) {
      throw invalidInput(
        'ASAP_BAD_COORDINATE',
        `annotation ${q(name)}: coordinate ${i + 1} in the file has Order ${q(orderText ?? '(missing)')}, not a non-negative integer`,
      );
    }
    orders[i] = Number(orderText);
    xy[2 * i] = readNumber(c, 'X', name, orderText);
    xy[2 * i + 1] = readNumber(c, 'Y', name, orderText);
    if (i > 0 && orders[i]! <= orders[i - 1]!) sorted = false;
  }
  return sorted ? xy : reorder(xy, orders, name);
}

/** Documents usually list coordinates in Order already; only the others pay for a sort. */
function reorder(xy: Float64Array, orders: Float64Array, name: string): Float64Array {
  const idx = Array.from(orders.keys()).sort((a, b) => orders[a]! - orders[b]!);
  const out = new Float64Array(xy.length);
  idx.forEach((from, to) => {
    if (to > 0 && orders[from] === orders[idx[to - 1]!]) {
      throw invalidInput('ASAP_BAD_COORDINATE', `annotation ${q(name)}: two coordinates have Order="${orders[from]}"`);
    }
    out[2 * to] = xy[2 * from]!;
    out[2 * to + 1] = xy[2 * from + 1]!;
  });
  return out;
}

function readNumber(c: XmlNode, key: 'X' | 'Y', name: string, order: string): number {
  const raw = attr(c, key);
  const text = raw?.trim() ?? '';
  // Strict grammar: Number() alone would accept '', hex, 'Infinity' and whitespace.
  const value = NUMBER_RE.test(text) ? Number(text.replace(',', '.')) : NaN;
  if (!Number.isFinite(value)) {
    throw invalidInput(
      'ASAP_BAD_COORDINATE',
      `annotation ${q(name)}: coordinate Order="${order}" has ${key}=${q(raw === undefined ? '(missing)' : clip(raw, 40))}, not a finite number`,
    );
  }
  return value;
}

function isNode(v: unknown): v is XmlNode {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Child elements named `tag`; an element without attributes or children parses as '', kept as {}. */
function childNodes(parent: XmlNode, tag: string): XmlNode[] {
  const v = parent[tag];
  if (v === undefined) return [];
  const list: unknown[] = Array.isArray(v) ? v : [v];
  return list.map((e) => (isNode(e) ? e : {}));
}

function attr(node: XmlNode, key: string): string | undefined {
  const v = node[key];
  return typeof v === 'string' ? v : undefined;
}

function clip(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max)}...` : s;
}

/** Quotes a name from the file for a message, bounded so a huge attribute cannot flood logs. */
function q(s: string): string {
  return JSON.stringify(clip(s, 80));
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
