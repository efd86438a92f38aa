import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { parseGeoJson } from '../../src/labels/geojson.js';
import type { ClassResolver } from '../../src/labels/shapes.js';
import { camelyonJsonToGeoJson, loadCamelyonJson } from '../support/camelyon-json.js';
import { plain, rejection } from '../support/readers.js';

const CLASSES = new Map<string, number | null>([
  ['Tumor', 1],
  ['Tumor: Positive', 1],
  ['fold', 5],
  ['ink', 6],
  ['Exclusion', null],
]);
const resolve: ClassResolver = (name) => CLASSES.get(name);

type Json = unknown;
const SQUARE = [
  [0, 0],
  [10, 0],
  [10, 10],
  [0, 10],
  [0, 0],
];
const HOLE = [
  [2, 2],
  [4, 2],
  [4, 4],
  [2, 2],
];
const TRI = [
  [20, 20],
  [30, 20],
  [25, 28],
];
const tumour = { classification: { name: 'Tumor', color: [200, 0, 0] } };

function poly(rings: Json[], properties: Json = tumour, extra: Record<string, Json> = {}): Json {
  return { type: 'Feature', ...extra, geometry: { type: 'Polygon', coordinates: rings }, properties };
}

function geom(geometry: Json, properties: Json = tumour): Json {
  return { type: 'Feature', geometry, properties };
}

function fc(...features: Json[]): string {
  return JSON.stringify({ type: 'FeatureCollection', features });
}

const SQ = [0, 0, 10, 0, 10, 10, 0, 10];
const HO = [2, 2, 4, 2, 4, 4];
const TR = [20, 20, 30, 20, 25, 28];

describe('parseGeoJson: shapes', () => {
  const cases: Array<{ title: string; text: string; expected: ReturnType<typeof plain> }> = [
    {
      title: 'a closed ring drops its repeated last vertex',
      text: fc(poly([SQUARE])),
      expected: [{ name: 'feature 0', value: 1, rings: [SQ] }],
    },
    {
      title: 'an unclosed ring is kept as written',
      text: fc(poly([TRI])),
      expected: [{ name: 'feature 0', value: 1, rings: [TR] }],
    },
    {
      title: 'a polygon with a hole is one shape with both rings',
      text: fc(poly([SQUARE, HOLE])),
      expected: [{ name: 'feature 0', value: 1, rings: [SQ, HO] }],
    },
    {
      title: 'a MultiPolygon gives one shape per polygon',
      text: fc(geom({ type: 'MultiPolygon', coordinates: [[SQUARE, HOLE], [TRI]] })),
      expected: [
        { name: 'feature 0', value: 1, rings: [SQ, HO] },
        { name: 'feature 0', value: 1, rings: [TR] },
      ],
    },
    {
      title: 'a bare array of features; ids name the shapes',
      text: JSON.stringify([poly([TRI], tumour, { id: 'a1b2-uuid' }), poly([SQUARE], tumour, { id: 7 })]),
      expected: [
        { name: 'a1b2-uuid', value: 1, rings: [TR] },
        { name: '7', value: 1, rings: [SQ] },
      ],
    },
    {
      title: 'a single Feature',
      text: JSON.stringify(poly([TRI])),
      expected: [{ name: 'feature 0', value: 1, rings: [TR] }],
    },
    {
      title: 'points, lines and null geometries are skipped without needing a class',
      text: fc(
        geom({ type: 'Point', coordinates: [1, 2] }, null),
        geom(
          {
            type: 'LineString',
            coordinates: [
              [1, 2],
              [3, 4],
            ],
          },
          {},
        ),
        geom({ type: 'MultiPoint', coordinates: [[1, 2]] }),
        geom({
          type: 'MultiLineString',
          coordinates: [
            [
              [1, 2],
              [3, 4],
            ],
          ],
        }),
        geom(null),
        poly([TRI]),
      ),
      expected: [{ name: 'feature 5', value: 1, rings: [TR] }],
    },
    {
      title: 'GeometryCollections are searched for polygons, nested too',
      text: fc(
        geom({
          type: 'GeometryCollection',
          geometries: [
            { type: 'Point', coordinates: [0, 0] },
            { type: 'Polygon', coordinates: [TRI] },
            { type: 'GeometryCollection', geometries: [{ type: 'MultiPolygon', coordinates: [[SQUARE]] }] },
          ],
        }),
      ),
      expected: [
        { name: 'feature 0', value: 1, rings: [TR] },
        { name: 'feature 0', value: 1, rings: [SQ] },
      ],
    },
    {
      title: 'class sources: classification.name, .names, classification string, class, label',
      text: fc(
        poly([TRI], { classification: { name: 'fold', names: ['ignored'] }, class: 'ink' }),
        poly([TRI], { classification: { names: ['Tumor', 'Positive'], color: [1, 2, 3] } }),
        poly([TRI], { classification: 'ink' }),
        poly([TRI], { class: 'fold', label: 'ink' }),
        poly([TRI], { label: 'ink', isLocked: true, objectType: 'annotation' }),
      ),
      expected: [5, 1, 6, 5, 6].map((value, i) => ({ name: `feature ${i}`, value, rings: [TR] })),
    },
    {
      title: 'a class resolved to null is a hole',
      text: fc(poly([SQUARE], { classification: { name: 'Exclusion' } })),
      expected: [{ name: 'feature 0', value: null, rings: [SQ] }],
    },
    {
      title: 'z values and fractional coordinates',
      text: fc(
        poly([
          [
            [0.5, 0.25, 9],
            [10.5, 0.25, 9],
            [5.125, 7.75, 9],
          ],
        ]),
      ),
      expected: [{ name: 'feature 0', value: 1, rings: [[0.5, 0.25, 10.5, 0.25, 5.125, 7.75]] }],
    },
    {
      title: 'empty collection and empty geometries',
      text: fc(geom({ type: 'Polygon', coordinates: [] }), geom({ type: 'MultiPolygon', coordinates: [] })),
      expected: [],
    },
  ];
  it.each(cases)('$title', ({ text, expected }) => {
    expect(plain(parseGeoJson(text, resolve))).toEqual(expected);
  });
});

describe('parseGeoJson: rejections', () => {
  const badGeometry = (geometry: Json, ...parts: string[]): { text: string; code: string; parts: string[] } => ({
    text: fc(poly([TRI]), geom(geometry)),
    code: 'GEOJSON_BAD_GEOMETRY',
    parts: ['feature 1', ...parts],
  });
  const cases: Array<{ title: string; text: string; code: string; parts: string[]; max?: number }> = [
    { title: 'truncated JSON', text: fc(poly([TRI])).slice(0, 40), code: 'JSON_MALFORMED', parts: ['not valid JSON'] },
    { title: 'empty text', text: '', code: 'JSON_MALFORMED', parts: ['not valid JSON'] },
    {
      title: 'XML given to the JSON reader',
      text: '<ASAP_Annotations/>',
      code: 'JSON_MALFORMED',
      parts: ['not valid JSON'],
    },
    ...[
      'null',
      '42',
      '"FeatureCollection"',
      'true',
      '{}',
      '{"type":"Polygon","coordinates":[]}',
      '{"type":"FeatureCollection"}',
    ].map((text) => ({
      title: `top level ${text}`,
      text,
      code: 'GEOJSON_NOT_FEATURES',
      parts: ['FeatureCollection'],
    })),
    {
      title: 'a member that is not a Feature',
      text: fc(poly([TRI]), { type: 'Polygon', coordinates: [TRI] }),
      code: 'GEOJSON_NOT_FEATURES',
      parts: ['feature 1'],
    },
    { title: 'null in an array of features', text: '[null]', code: 'GEOJSON_NOT_FEATURES', parts: ['feature 0'] },
    {
      title: 'no geometry member',
      ...badGeometry(undefined, 'no geometry'),
      text: fc(poly([TRI]), { type: 'Feature', properties: tumour }),
    },
    { title: 'geometry is a number', ...badGeometry(5, 'not an object') },
    { title: 'unknown geometry type', ...badGeometry({ type: 'Circle', coordinates: [] }, '"Circle"') },
    { title: 'missing coordinates', ...badGeometry({ type: 'Polygon' }, 'no coordinates array') },
    {
      title: 'string coordinates',
      ...badGeometry(
        {
          type: 'Polygon',
          coordinates: [
            [
              ['1', '2'],
              [3, 4],
              [5, 6],
            ],
          ],
        },
        'ring 0, position 0',
      ),
    },
    {
      title: 'infinite coordinate (1e999)',
      text: fc(poly([TRI])).replace('[25,28]', '[25,1e999]'),
      code: 'GEOJSON_BAD_GEOMETRY',
      parts: ['feature 0', 'position 2', 'finite'],
    },
    {
      title: 'null position',
      ...badGeometry({ type: 'Polygon', coordinates: [[[0, 0], null, [5, 6]]] }, 'position 1'),
    },
    {
      title: 'one-number position',
      ...badGeometry({ type: 'Polygon', coordinates: [[[0, 0], [1], [5, 6]]] }, 'position 1'),
    },
    {
      title: 'Polygon nested one level too shallow',
      ...badGeometry({ type: 'Polygon', coordinates: TRI }, 'ring 0', 'too shallow'),
    },
    {
      title: 'Polygon nested one level too deep',
      ...badGeometry({ type: 'Polygon', coordinates: [[TRI]] }, 'ring 0, position 0', 'too deep'),
    },
    {
      title: 'MultiPolygon nested like a Polygon',
      ...badGeometry({ type: 'MultiPolygon', coordinates: [TRI, TRI] }, 'polygon 0, ring 0', 'too shallow'),
    },
    {
      title: 'Polygon whose rings are bare numbers',
      ...badGeometry({ type: 'Polygon', coordinates: [1, 2, 3] }, 'ring 0', 'wrong depth'),
    },
    {
      title: 'MultiPolygon with an empty polygon',
      ...badGeometry({ type: 'MultiPolygon', coordinates: [[TRI], []] }, 'polygon 1', 'not an array of rings'),
    },
    {
      title: 'ring of 2 distinct points',
      ...badGeometry(
        {
          type: 'Polygon',
          coordinates: [
            [
              [0, 0],
              [1, 1],
              [0, 0],
              [1, 1],
            ],
          ],
        },
        'ring 0',
        'fewer than 3 distinct',
      ),
    },
    {
      title: 'degenerate hole',
      ...badGeometry(
        {
          type: 'Polygon',
          coordinates: [
            SQUARE,
            [
              [1, 1],
              [1, 1],
              [1, 1],
            ],
          ],
        },
        'ring 1',
        'fewer than 3',
      ),
    },
    { title: 'GeometryCollection without geometries', ...badGeometry({ type: 'GeometryCollection' }, 'no geometries') },
    {
      title: 'GeometryCollections nested too deep',
      ...badGeometry(
        Array.from({ length: 40 }).reduce<Json>((g) => ({ type: 'GeometryCollection', geometries: [g] }), {
          type: 'Polygon',
          coordinates: [TRI],
        }),
        'deeper than 16',
      ),
    },
    {
      title: 'no class at all',
      text: fc(poly([TRI]), poly([TRI], { name: 'Tumor' }, { id: 'abc' })),
      code: 'GEOJSON_NO_CLASS',
      parts: ['feature 1', '"abc"'],
    },
    { title: 'null properties', text: fc(poly([TRI], null)), code: 'GEOJSON_NO_CLASS', parts: ['feature 0'] },
    {
      title: 'classification without a name',
      text: fc(poly([TRI], { classification: { color: [1, 2, 3] } })),
      code: 'GEOJSON_NO_CLASS',
      parts: ['feature 0'],
    },
    {
      title: 'unknown class',
      text: fc(poly([TRI]), poly([TRI], { classification: { name: 'Stroma' } })),
      code: 'UNKNOWN_CLASS',
      parts: ['"Stroma"', 'feature 1'],
    },
    {
      title: 'a class named like an Object member',
      text: fc(poly([TRI], { classification: { name: 'toString' } })),
      code: 'UNKNOWN_CLASS',
      parts: ['"toString"'],
    },
    {
      title: 'vertex budget (closing vertices do not count)',
      text: fc(poly([SQUARE]), poly([SQUARE, HOLE])),
      max: 10,
      code: 'TOO_MANY_VERTICES',
      parts: ['feature 1', '11 vertices', 'limit of 10'],
    },
  ];
  it.each(cases)('$title -> $code', ({ text, code, parts, max }) => {
    const err = rejection(() => parseGeoJson(text, resolve, max === undefined ? {} : { maxVertices: max }));
    expect(err.code).toBe(code);
    expect(err.status).toBe(422);
    for (const part of parts) expect(err.detail).toContain(part);
  });

  it('accepts a file exactly at the vertex budget', () => {
    expect(parseGeoJson(fc(poly([SQUARE]), poly([SQUARE, HOLE])), resolve, { maxVertices: 11 })).toHaveLength(2);
  });

  it('clips huge class names in messages', () => {
    const err = rejection(() => parseGeoJson(fc(poly([TRI], { class: 'x'.repeat(1_000_000) })), resolve));
    expect(err.detail.length).toBeLessThan(300);
  });

  it('throws only AppError on hostile and random input', () => {
    const inputs: string[] = [
      '['.repeat(200_000) + ']'.repeat(200_000),
      JSON.stringify({
        type: 'Feature',
        geometry: { type: 'Polygon', coordinates: '['.repeat(10) },
        properties: tumour,
      }),
      JSON.stringify({ type: 'Feature', geometry: { type: ['Polygon'], coordinates: [] } }),
      JSON.stringify({
        type: 'Feature',
        geometry: { type: 'Polygon', coordinates: [[{ 0: 1, 1: 2 }, [1, 2], [3, 4]]] },
        properties: tumour,
      }),
      JSON.stringify({
        type: 'Feature',
        id: { nested: true },
        geometry: { type: 'Polygon', coordinates: [TRI] },
        properties: { classification: { name: 5, names: [1] } },
      }),
      '"' + 'a'.repeat(5_000_000) + '"',
    ];
    let seed = 12345;
    const rand = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const randomValue = (depth: number): Json =>
      depth > 4 || rand() < 0.3
        ? pick<Json>([null, 0, -1, 1e308, 'Polygon', 'Feature', true, [], {}])
        : rand() < 0.5
          ? Array.from({ length: Math.floor(rand() * 4) }, () => randomValue(depth + 1))
          : {
              type: pick(['Feature', 'Polygon', 'MultiPolygon', 'GeometryCollection', 'FeatureCollection']),
              geometry: randomValue(depth + 1),
              coordinates: randomValue(depth + 1),
              geometries: randomValue(depth + 1),
              features: randomValue(depth + 1),
              properties: randomValue(depth + 1),
            };
    for (let i = 0; i < 2000; i++) inputs.push(JSON.stringify(randomValue(0)) ?? 'null');
    for (const text of inputs) {
      try {
        expect(Array.isArray(parseGeoJson(text, resolve))).toBe(true);
      } catch (e) {
        expect(e, text.slice(0, 200)).toBeInstanceOf(AppError);
      }
    }
  });
});

describe('parseGeoJson: real Camelyon16 polygons as QuPath GeoJSON', () => {
  it('Tumor_034: one tumour polygon holding its 90 holes as rings', () => {
    const json = loadCamelyonJson('Tumor_034');
    const shapes = parseGeoJson(camelyonJsonToGeoJson(json, 'Tumor'), resolve);
    expect(shapes).toHaveLength(1);
    const [shape] = shapes;
    expect(shape?.value).toBe(1);
    expect(shape?.name).toBe(json.positive[0]?.name);
    expect(shape?.rings).toHaveLength(91);
    expect(shape?.rings.map((r) => Array.from(r))).toEqual(
      [...json.positive, ...json.negative].map((p) => p.vertices.flat()),
    );
    expect(shape?.rings.reduce((n, r) => n + r.length / 2, 0)).toBe(8554 + 32295);
  });

  it('Tumor_105: 159 tumour polygons, one of them holding the single hole', () => {
    const json = loadCamelyonJson('Tumor_105');
    const shapes = parseGeoJson(camelyonJsonToGeoJson(json, 'Tumor'), resolve);
    expect(shapes).toHaveLength(159);
    expect(shapes.every((s) => s.value === 1)).toBe(true);
    shapes.forEach((s, i) => expect(Array.from(s.rings[0]!)).toEqual(json.positive[i]?.vertices.flat()));
    const holes = shapes.flatMap((s) => s.rings.slice(1).map((r) => Array.from(r)));
    expect(holes).toEqual([json.negative[0]?.vertices.flat()]);
    expect(shapes.reduce((n, s) => n + s.rings.reduce((m, r) => m + r.length / 2, 0), 0)).toBe(6647 + 27);
  });

  it('Tumor_107: holes outside every tumour polygon become Exclusion (null) features', () => {
    const json = loadCamelyonJson('Tumor_107');
    const shapes = parseGeoJson(camelyonJsonToGeoJson(json, 'Tumor'), resolve);
    expect(shapes.map((s) => [s.value, s.rings.length])).toEqual([
      [1, 2],
      [1, 1],
      [null, 1],
      [null, 1],
    ]);
    const rings = shapes
      .flatMap((s) => s.rings)
      .map((r) => r.length / 2)
      .sort((a, b) => a - b);
    expect(rings).toEqual([...json.positive, ...json.negative].map((p) => p.vertices.length).sort((a, b) => a - b));
  });
});
