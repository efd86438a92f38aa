import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { parseAsapXml } from '../../src/labels/asap.js';
import type { ClassResolver, LabelShape } from '../../src/labels/shapes.js';
import { camelyonJsonToAsapXml, loadCamelyonJson, type CamelyonPolygonsJson } from '../support/camelyon-json.js';
import { plain, rejection } from '../support/readers.js';

/** Camelyon16's groups: _0/_1/Tumor are tumour (value 1), _2/Exclusion are holes. */
const CLASSES = new Map<string, number | null>([
  ['_0', 1],
  ['_1', 1],
  ['Tumor', 1],
  ['_2', null],
  ['Exclusion', null],
  ['fold', 5],
]);
const camelyon: ClassResolver = (name) => CLASSES.get(name);

const GROUPS = ['_0', '_1', '_2'].map(
  (g) => `<Group Name="${g}" PartOfGroup="None" Color="#FF0000"><Attributes/></Group>`,
);

/** [Order, X, Y] of one Coordinate element. */
type Pt = [number | string, number | string, number | string];

function coords(points: Pt[]): string {
  return points.map(([o, x, y]) => `<Coordinate Order="${o}" X="${x}" Y="${y}"/>`).join('');
}

/** One Annotation element; `points` are [Order, X, Y] in document order. */
function ann(name: string, type: string, group: string | null, points: Pt[]): string {
  const g = group === null ? '' : ` PartOfGroup="${group}"`;
  return `<Annotation Name="${name}" Type="${type}"${g} Color="#F4FA58"><Coordinates>${coords(points)}</Coordinates></Annotation>`;
}

function doc(annotations: string[], groups: string[] = GROUPS): string {
  return (
    `<?xml version="1.0"?>\n<ASAP_Annotations><Annotations>${annotations.join('\n')}</Annotations>` +
    `<AnnotationGroups>${groups.join('')}</AnnotationGroups></ASAP_Annotations>`
  );
}

const TRIANGLE: Array<[number, number, number]> = [
  [0, 10, 20],
  [1, 30, 20],
  [2, 20, 40],
];

describe('parseAsapXml: shapes', () => {
  const cases: Array<{ title: string; xml: string; expected: ReturnType<typeof plain> }> = [
    {
      title: 'a polygon keeps its vertices, without a closing repeat',
      xml: doc([ann('_0', 'Polygon', '_0', TRIANGLE)]),
      expected: [{ name: '_0', value: 1, rings: [[10, 20, 30, 20, 20, 40]] }],
    },
    {
      title: 'coordinates are placed by Order, not document order, and Order may have gaps',
      xml: doc([
        ann('a', 'Polygon', '_0', [
          [7, 5, 6],
          [0, 1, 2],
          [3, 3, 4],
          [12, 7, 9],
        ]),
      ]),
      expected: [{ name: 'a', value: 1, rings: [[1, 2, 3, 4, 5, 6, 7, 9]] }],
    },
    {
      title: 'decimal commas, signs, exponents and surrounding spaces are read',
      xml: doc([
        ann('a', 'Polygon', '_0', [
          [0, '1234,5', '0,25'],
          [1, '-3', '+4.75'],
          [2, ' 1.5e2 ', ',5'],
          [3, '7.', '.5'],
        ]),
      ]),
      expected: [{ name: 'a', value: 1, rings: [[1234.5, 0.25, -3, 4.75, 150, 0.5, 7, 0.5]] }],
    },
    {
      title: 'a Spline reads its control points as a polygon, a Rectangle its 4 corners',
      xml: doc([
        ann('s', 'Spline', '_0', [
          [0, 0, 0],
          [1, 10, 0],
          [2, 10, 10],
          [3, 0, 10],
        ]),
        ann('r', 'Rectangle', '_1', [
          [0, 100, 100],
          [1, 200, 100],
          [2, 200, 150],
          [3, 100, 150],
        ]),
      ]),
      expected: [
        { name: 's', value: 1, rings: [[0, 0, 10, 0, 10, 10, 0, 10]] },
        { name: 'r', value: 1, rings: [[100, 100, 200, 100, 200, 150, 100, 150]] },
      ],
    },
    {
      title: 'Dot, PointSet and Measurement are skipped, even without a group or coordinates',
      xml: doc([
        ann('dot', 'Dot', null, [[0, 'x', 'y']]),
        ann('t', 'Polygon', '_0', TRIANGLE),
        ann('set', 'PointSet', '_1', [
          [0, 1, 1],
          [1, 2, 2],
        ]),
        ann('ruler', 'Measurement', 'None', [
          [0, 1, 1],
          [1, 9, 9],
        ]),
      ]),
      expected: [{ name: 't', value: 1, rings: [[10, 20, 30, 20, 20, 40]] }],
    },
    {
      title: 'group _2 is a hole (null); output keeps document order',
      xml: doc([
        ann('hole', 'Polygon', '_2', [
          [0, 15, 25],
          [1, 25, 25],
          [2, 20, 30],
        ]),
        ann('tumour', 'Polygon', '_1', TRIANGLE),
      ]),
      expected: [
        { name: 'hole', value: null, rings: [[15, 25, 25, 25, 20, 30]] },
        { name: 'tumour', value: 1, rings: [[10, 20, 30, 20, 20, 40]] },
      ],
    },
    {
      title: 'named groups Tumor and Exclusion',
      xml: doc(
        [ann('a', 'Polygon', 'Tumor', TRIANGLE), ann('b', 'Polygon', 'Exclusion', TRIANGLE)],
        ['<Group Name="Tumor" PartOfGroup="None"/>', '<Group Name="Exclusion" PartOfGroup="None"/>'],
      ),
      expected: [
        { name: 'a', value: 1, rings: [[10, 20, 30, 20, 20, 40]] },
        { name: 'b', value: null, rings: [[10, 20, 30, 20, 20, 40]] },
      ],
    },
    {
      title: 'an unknown group inherits the class of its parent chain; a known child wins',
      xml: doc(
        [ann('deep', 'Polygon', 'grandchild', TRIANGLE), ann('own', 'Polygon', 'fold', TRIANGLE)],
        [
          '<Group Name="grandchild" PartOfGroup="child"/>',
          '<Group Name="child" PartOfGroup="Exclusion"/>',
          '<Group Name="Exclusion" PartOfGroup="None"/>',
          '<Group Name="fold" PartOfGroup="Tumor"/>',
          '<Group Name="Tumor" PartOfGroup="None"/>',
        ],
      ),
      expected: [
        { name: 'deep', value: null, rings: [[10, 20, 30, 20, 20, 40]] },
        { name: 'own', value: 5, rings: [[10, 20, 30, 20, 20, 40]] },
      ],
    },
    {
      title: 'XML entities in names are decoded; an unnamed annotation is named by its index',
      xml: doc([
        ann('A &amp; B', 'Polygon', '_0', TRIANGLE),
        '<Annotation Type="Polygon" PartOfGroup="_0">' + `<Coordinates>${coords(TRIANGLE)}</Coordinates></Annotation>`,
      ]),
      expected: [
        { name: 'A & B', value: 1, rings: [[10, 20, 30, 20, 20, 40]] },
        { name: '#1', value: 1, rings: [[10, 20, 30, 20, 20, 40]] },
      ],
    },
    { title: 'an empty root holds no shapes', xml: '<ASAP_Annotations/>', expected: [] },
    {
      title: 'a root without Annotations holds no shapes',
      xml: `<ASAP_Annotations><AnnotationGroups>${GROUPS.join('')}</AnnotationGroups></ASAP_Annotations>`,
      expected: [],
    },
  ];
  it.each(cases)('$title', ({ xml, expected }) => {
    expect(plain(parseAsapXml(xml, camelyon))).toEqual(expected);
  });

  it('returns Float64Array rings', () => {
    const [shape] = parseAsapXml(doc([ann('a', 'Polygon', '_0', TRIANGLE)]), camelyon);
    expect(shape?.rings[0]).toBeInstanceOf(Float64Array);
  });

  it('classifies an ungrouped annotation when resolve("None") knows it', () => {
    const resolve: ClassResolver = (n) => (n === 'None' ? 4 : undefined);
    const xml = doc([ann('a', 'Polygon', 'None', TRIANGLE), ann('b', 'Polygon', null, TRIANGLE)]);
    expect(parseAsapXml(xml, resolve).map((s) => s.value)).toEqual([4, 4]);
  });
});

describe('parseAsapXml: rejections', () => {
  const cases: Array<{ title: string; xml: string; code: string; parts: string[]; max?: number }> = [
    {
      title: 'truncated document',
      xml: doc([ann('a', 'Polygon', '_0', TRIANGLE)]).slice(0, 120),
      code: 'XML_MALFORMED',
      parts: ['line'],
    },
    {
      title: 'mismatched tags',
      xml: '<ASAP_Annotations><Annotations></ASAP_Annotations>',
      code: 'XML_MALFORMED',
      parts: ['line 1', 'Annotations'],
    },
    { title: 'empty text', xml: '', code: 'XML_MALFORMED', parts: ['not well-formed'] },
    { title: 'not XML at all', xml: '{"type":"FeatureCollection"}', code: 'XML_MALFORMED', parts: ['column 1'] },
    {
      title: 'another root element',
      xml: '<Annotations><Annotation/></Annotations>',
      code: 'ASAP_NO_ROOT',
      parts: ['ASAP_Annotations'],
    },
    {
      title: 'undeclared group',
      xml: doc([ann('Annotation 3', 'Polygon', '_5', TRIANGLE)]),
      code: 'ASAP_UNDECLARED_GROUP',
      parts: ['"Annotation 3"', '"_5"', 'does not declare'],
    },
    {
      title: 'undeclared group on a Dot (ASAP rejects the whole file)',
      xml: doc([ann('d', 'Dot', 'nowhere', [[0, 1, 1]])]),
      code: 'ASAP_UNDECLARED_GROUP',
      parts: ['"d"', '"nowhere"'],
    },
    {
      title: 'undeclared group without any AnnotationGroups',
      xml: `<ASAP_Annotations><Annotations>${ann('a', 'Polygon', '_0', TRIANGLE)}</Annotations></ASAP_Annotations>`,
      code: 'ASAP_UNDECLARED_GROUP',
      parts: ['"a"', '"_0"'],
    },
    {
      title: 'a group whose parent is undeclared',
      xml: doc([ann('a', 'Polygon', 'child', TRIANGLE)], ['<Group Name="child" PartOfGroup="ghost"/>']),
      code: 'ASAP_UNDECLARED_GROUP',
      parts: ['"a"', '"child"', '"ghost"'],
    },
    {
      title: 'PartOfGroup None',
      xml: doc([ann('lonely', 'Polygon', 'None', TRIANGLE)]),
      code: 'ASAP_NO_GROUP',
      parts: ['"lonely"', 'no group'],
    },
    {
      title: 'no PartOfGroup at all',
      xml: doc([ann('bare', 'Polygon', null, TRIANGLE)]),
      code: 'ASAP_NO_GROUP',
      parts: ['"bare"'],
    },
    {
      title: 'a declared group no resolver knows',
      xml: doc([ann('a', 'Polygon', 'stroma', TRIANGLE)], ['<Group Name="stroma" PartOfGroup="None"/>']),
      code: 'UNKNOWN_CLASS',
      parts: ['"a"', '"stroma"', 'not a known class'],
    },
    {
      title: 'a cyclic unknown group chain names every group it tried',
      xml: doc(
        [ann('a', 'Polygon', 'x', TRIANGLE)],
        ['<Group Name="x" PartOfGroup="y"/>', '<Group Name="y" PartOfGroup="x"/>'],
      ),
      code: 'UNKNOWN_CLASS',
      parts: ['neither group "x" nor its parent groups "y"'],
    },
    {
      title: 'unknown Type',
      xml: doc([ann('e', 'Ellipse', '_0', TRIANGLE)]),
      code: 'ASAP_UNKNOWN_TYPE',
      parts: ['"e"', '"Ellipse"'],
    },
    {
      title: 'two points',
      xml: doc([
        ann('line', 'Polygon', '_0', [
          [0, 1, 1],
          [1, 2, 2],
        ]),
      ]),
      code: 'ASAP_TOO_FEW_POINTS',
      parts: ['"line"', '2 coordinates'],
    },
    {
      title: 'four points but only two distinct',
      xml: doc([
        ann('flat', 'Polygon', '_0', [
          [0, 1, 1],
          [1, 2, 2],
          [2, 1, 1],
          [3, 2, 2],
        ]),
      ]),
      code: 'ASAP_TOO_FEW_POINTS',
      parts: ['"flat"', 'fewer than 3 distinct'],
    },
    {
      title: 'no coordinates',
      xml: doc(['<Annotation Name="empty" Type="Polygon" PartOfGroup="_0"><Coordinates/></Annotation>']),
      code: 'ASAP_TOO_FEW_POINTS',
      parts: ['"empty"'],
    },
    ...(
      [
        ['abc', 'X="abc"'],
        ['', 'X=""'],
        ['NaN', 'X="NaN"'],
        ['Infinity', 'X="Infinity"'],
        ['1e999', 'X="1e999"'],
        ['0x10', 'X="0x10"'],
        ['1,2,3', 'X="1,2,3"'],
        ['1.234,5', 'X="1.234,5"'],
      ] as const
    ).map(([x, part]) => ({
      title: `X="${x}"`,
      xml: doc([
        ann('bad', 'Polygon', '_0', [
          [0, 1, 1],
          [1, x, 2],
          [2, 3, 3],
        ]),
      ]),
      code: 'ASAP_BAD_COORDINATE',
      parts: ['"bad"', 'Order="1"', part],
    })),
    {
      title: 'missing Y',
      xml: doc([
        '<Annotation Name="m" Type="Polygon" PartOfGroup="_0"><Coordinates><Coordinate Order="0" X="1"/></Coordinates></Annotation>',
      ]),
      code: 'ASAP_BAD_COORDINATE',
      parts: ['"m"', 'Order="0"', 'Y="(missing)"'],
    },
    ...['-1', '1.5', '', 'first'].map((order) => ({
      title: `Order="${order}"`,
      xml: doc([
        ann('o', 'Polygon', '_0', [
          [0, 1, 1],
          [order, 2, 2],
          [2, 3, 3],
        ]),
      ]),
      code: 'ASAP_BAD_COORDINATE',
      parts: ['"o"', 'coordinate 2', `Order ${JSON.stringify(order)}`],
    })),
    {
      title: 'duplicate Order',
      xml: doc([
        ann('dup', 'Polygon', '_0', [
          [0, 1, 1],
          [2, 2, 2],
          [2, 3, 3],
        ]),
      ]),
      code: 'ASAP_BAD_COORDINATE',
      parts: ['"dup"', 'Order="2"'],
    },
    {
      title: 'vertex budget over the whole file',
      xml: doc([ann('first', 'Polygon', '_0', TRIANGLE), ann('second', 'Polygon', '_2', TRIANGLE)]),
      max: 5,
      code: 'TOO_MANY_VERTICES',
      parts: ['"second"', '6 vertices', 'limit of 5'],
    },
  ];
  it.each(cases)('$title -> $code', ({ xml, code, parts, max }) => {
    const err = rejection(() => parseAsapXml(xml, camelyon, max === undefined ? {} : { maxVertices: max }));
    expect(err.code).toBe(code);
    expect(err.status).toBe(422);
    for (const part of parts) expect(err.detail).toContain(part);
    expect(err.detail).not.toMatch(/\/work|\/tmp|\\/);
  });

  it('accepts a file exactly at the vertex budget', () => {
    const xml = doc([ann('first', 'Polygon', '_0', TRIANGLE), ann('second', 'Polygon', '_2', TRIANGLE)]);
    expect(parseAsapXml(xml, camelyon, { maxVertices: 6 })).toHaveLength(2);
  });

  it('clips a huge annotation name in messages', () => {
    const err = rejection(() => parseAsapXml(doc([ann('n'.repeat(100_000), 'Polygon', '_9', TRIANGLE)]), camelyon));
    expect(err.detail.length).toBeLessThan(300);
  });

  it('throws only AppError on every truncation of a valid file', () => {
    const xml = doc([ann('a', 'Polygon', '_0', TRIANGLE), ann('b', 'Dot', '_1', [[0, 1, 1]])]);
    for (let end = 0; end < xml.length; end++) {
      try {
        parseAsapXml(xml.slice(0, end), camelyon);
      } catch (e) {
        expect(e, `truncated at ${end}`).toBeInstanceOf(AppError);
      }
    }
  });
});

describe('parseAsapXml: real Camelyon16 polygons', () => {
  /** Every polygon of the fixture in the order the XML writer emits them. */
  function expectSameAsJson(shapes: LabelShape[], json: CamelyonPolygonsJson): void {
    const polygons = [
      ...json.positive.map((p) => ({ p, value: 1 })),
      ...json.negative.map((p) => ({ p, value: null })),
    ];
    expect(shapes).toHaveLength(polygons.length);
    shapes.forEach((shape, i) => {
      const { p, value } = polygons[i]!;
      expect(shape.name).toBe(p.name);
      expect(shape.value).toBe(value);
      expect(shape.rings).toHaveLength(1);
      expect(Array.from(shape.rings[0]!)).toEqual(p.vertices.flat());
    });
  }

  it('Tumor_034: 1 tumour polygon with 90 holes, 40,849 vertices', () => {
    const json = loadCamelyonJson('Tumor_034');
    const shapes = parseAsapXml(camelyonJsonToAsapXml(json), camelyon);
    expect(shapes.filter((s) => s.value === 1)).toHaveLength(1);
    expect(shapes.filter((s) => s.value === null)).toHaveLength(90);
    expect(shapes.reduce((n, s) => n + s.rings[0]!.length / 2, 0)).toBe(8554 + 32295);
    expectSameAsJson(shapes, json);
  });

  it('Tumor_105: 159 tumour polygons and 1 hole, 6,674 vertices', () => {
    const json = loadCamelyonJson('Tumor_105');
    const shapes = parseAsapXml(camelyonJsonToAsapXml(json), camelyon);
    expect(shapes.filter((s) => s.value === 1)).toHaveLength(159);
    expect(shapes.reduce((n, s) => n + s.rings[0]!.length / 2, 0)).toBe(6647 + 27);
    expectSameAsJson(shapes, json);
  });

  it('reads the same polygons when coordinates are listed in reverse and groups are _1 / Exclusion', () => {
    const json = loadCamelyonJson('Tumor_105');
    const xml = camelyonJsonToAsapXml(json, {
      reverseCoordinates: true,
      positiveGroup: '_1',
      negativeGroup: 'Exclusion',
    });
    expectSameAsJson(parseAsapXml(xml, camelyon), json);
  });

  it('reads fractional coordinates written with decimal commas', () => {
    const json = loadCamelyonJson('Tumor_034');
    const shifted: CamelyonPolygonsJson = {
      positive: json.positive.map((p) => ({ ...p, vertices: p.vertices.map(([x, y]) => [x + 0.25, y + 0.5]) })),
      negative: json.negative.map((p) => ({ ...p, vertices: p.vertices.map(([x, y]) => [x + 0.75, y + 0.125]) })),
    };
    const xml = camelyonJsonToAsapXml(shifted, { decimalComma: true });
    expect(xml).toContain(',25"');
    expectSameAsJson(parseAsapXml(xml, camelyon), shifted);
  });

  it('rejects Tumor_039 against a budget smaller than its 47,197 vertices', () => {
    const xml = camelyonJsonToAsapXml(loadCamelyonJson('Tumor_039'));
    expect(rejection(() => parseAsapXml(xml, camelyon, { maxVertices: 47_196 })).code).toBe('TOO_MANY_VERTICES');
    expect(parseAsapXml(xml, camelyon, { maxVertices: 47_197 })).toHaveLength(148);
  });
});
