/**
 * fast-check arbitraries of hostile HTTP input: path segments (traversal, encodings, NUL, long,
 * unicode), query values and query forms, and JSON bodies (random, hostile SampleRequests,
 * deep, huge, truncated, oversized, wrongly typed or encoded). Every string they produce is
 * ready for the wire: anything a URL may not hold raw is percent-encoded, byte by byte.
 */
import { gzipSync, deflateSync } from 'node:zlib';
import fc from 'fast-check';

/** Ids of the core dataset (ok, unsupported) and of its files that failed to index. */
export const KNOWN_IDS = [
  'tumor_083',
  'tumor_107',
  'normal_001',
  'small',
  'boxes',
  'cmu-1-small-region',
  'tcga-cr-7395-01a-01-ts1',
  'yb10kx5k.zstd',
  'unreadable',
  'unopenable',
];
export const READABLE_IDS = ['tumor_083', 'tumor_107', 'normal_001', 'small', 'boxes', 'cmu-1-small-region'];
/** The default taxonomy's class names in value order (0 = unlabelled), written out once for every test. */
export const CLASS_NAMES = [
  'unlabelled',
  'metastasis',
  'lymph-node-parenchyma',
  'adipose',
  'connective-tissue',
  'fold',
  'ink',
  'blur',
  'bubble-debris',
];
export const CATEGORIES = ['diagnostic', 'background', 'artefact'];

/** UTF-8 bytes, percent-encoded except the unreserved characters (lone surrogates become U+FFFD). */
export function pct(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8'))
    out += /[A-Za-z0-9\-._~]/.test(String.fromCharCode(b))
      ? String.fromCharCode(b)
      : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  return out;
}

/** Path segments and query values that are already encoded the hostile way. */
const TRAVERSALS = [
  '..',
  '.',
  '...',
  '../..',
  '..%2f',
  '..%2F..%2F..%2Fetc%2Fpasswd',
  '%2e%2e',
  '%2e%2e%2f',
  '%2E%2E%2F%2E%2E%2Fetc%2Fpasswd',
  '.%2e',
  '%2e.',
  '..%5c..%5cwindows%5cwin.ini',
  '%252e%252e%252f',
  '%c0%ae%c0%ae%c0%af',
  '%e0%80%ae%e0%80%ae',
  '%uff0e%uff0e',
  '....%2f%2f',
  '..%00',
  '%00',
  'tumor_083%00',
  'tumor_083%00.tif',
  'tumor_083%00%2f..%2f..%2f',
  '%',
  '%2',
  '%ZZ',
  '%e2%82',
  '%ff%fe%fd',
  '%ed%a0%80',
  'tumor_083%2fimage.dzi',
  '%2fetc%2fpasswd',
  '%2f%2f',
  'Tumor_083',
  'TUMOR_083',
  'tumor_083.tif',
  'Tumor_083.tif',
  'slides%2fTumor_083.tif',
  '%20tumor_083',
  'tumor_083%20',
  'tumor_083%0d%0aSet-Cookie:%20x=1',
  'tumor_083%0a',
  '%3Cscript%3Ealert(1)%3C%2Fscript%3E',
  "'%20OR%201=1--",
  '%22%3B%20DROP%20TABLE%20slides%3B--',
  'tumor_083%27%20UNION%20SELECT%20rel_path%20FROM%20slides--',
  'con',
  'nul',
  'aux',
  'com1',
  '~',
  '*',
  '%2a',
  '$',
  ';',
  'tumor_083;x=1',
  'tumor_083%3b',
  '__proto__',
  'constructor',
  'prototype',
  'hasOwnProperty',
  'toString',
  'a'.repeat(127) + 'b',
  'a'.repeat(128),
  'a'.repeat(129),
  '0'.repeat(2000),
  `${'%2e%2e%2f'.repeat(200)}etc%2fpasswd`,
  `${'..%2f'.repeat(400)}`,
  'file:%2f%2f%2fetc%2fpasswd',
  'http:%2f%2fexample.com',
  '%F0%9F%A7%AB',
  '%E2%80%AE083_romut',
  '%E2%80%8Btumor_083',
  'tu%CC%88mor_083',
  '%EF%BC%8E%EF%BC%8E',
  '%C0%80',
  '-',
  '_',
  '.hidden',
  '.git',
  'index.sqlite',
  'manifest.json',
];

export const segment: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...KNOWN_IDS) },
  { weight: 5, arbitrary: fc.constantFrom(...TRAVERSALS) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }).map(pct) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }).map(pct) },
  {
    weight: 1,
    arbitrary: fc
      .integer({ min: 129, max: 2000 })
      .chain((n) =>
        fc
          .constantFrom('a', 'tumor_083', '%2e', '🧫')
          .map((u) => pct(u.repeat(Math.ceil(n / u.length)).slice(0, n)).replace(/%25/g, '%')),
      ),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(
        fc.constantFrom('', '..%2f', '%2e%2e%2f', '%00', 'x', '%20', '.'),
        fc.constantFrom(...READABLE_IDS),
        fc.constantFrom('', '%00', '.tif', '%2f..', '/', '.', '%20', '~', '%2500', ';'),
      )
      .map(([a, b, c]) => `${a}${b}${c}`),
  },
  {
    weight: 2,
    arbitrary: fc.string({
      unit: fc.constantFrom(
        '.',
        '%2e',
        '%2f',
        '%2F',
        '%5c',
        '%00',
        '%25',
        '%',
        'a',
        '_',
        '-',
        '~',
        ';',
        ':',
        '@',
        '!',
        '$',
        '&',
        "'",
        '(',
        ')',
        '*',
        '+',
        ',',
        '=',
        '%0a',
        '%ff',
      ),
      minLength: 1,
      maxLength: 30,
    }),
  },
);

/** A readable slide most of the time, so the parameters behind the id get exercised too. */
export const slideId: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...READABLE_IDS) },
  { weight: 1, arbitrary: segment },
);

/** Numbers as clients should not send them (already URL-safe, or encoded). */
const NUMBERS = [
  '-1',
  '-0',
  '0',
  '00',
  '+1',
  '%2B1',
  '1e308',
  '1e309',
  '-1e308',
  '1E3',
  '1e-7',
  '5e-324',
  '9007199254740993',
  '9007199254740992',
  '18446744073709551616',
  '4294967296',
  '4294967295',
  '2147483648',
  '-2147483649',
  '99999999999999999999999',
  '1.5',
  '0.5',
  '.5',
  '5.',
  '1.',
  '1.0',
  '-0.0',
  'NaN',
  'nan',
  'Infinity',
  '-Infinity',
  'inf',
  '',
  '%20',
  '%201',
  '1%20',
  '0x10',
  '0X1F',
  '0b101',
  '0o17',
  '017',
  '1_000',
  '1,000',
  '1%2C2',
  '%D9%A3',
  '%EF%BC%91',
  '١٢',
  'one',
  'true',
  'null',
  'undefined',
  '%00',
  '1%00',
  '[]',
  '%5B1%5D',
  '%7B%7D',
  '1e',
  'e1',
  '--1',
  '1-',
  '1..2',
  '1e+',
  `1${'0'.repeat(400)}`,
  `0.${'0'.repeat(300)}1`,
  '8193',
  '8192',
  '2049',
  '2048',
  '32',
  '33',
  '16',
  '15',
  '31',
  '1000',
  '1001',
  '999',
  '100',
  '95',
  '96',
  '29',
  '30',
];

export const hostileNumber: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...NUMBERS) },
  { weight: 2, arbitrary: fc.integer().map(String) },
  { weight: 1, arbitrary: fc.integer({ min: -(2 ** 53), max: 2 ** 53 }).map(String) },
  { weight: 2, arbitrary: fc.double().map((d) => pct(String(d))) },
  { weight: 1, arbitrary: fc.bigInt({ min: -(2n ** 100n), max: 2n ** 100n }).map(String) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme-ascii', maxLength: 12 }).map(pct) },
);

export const hostileText: fc.Arbitrary<string> = fc.oneof(
  { weight: 2, arbitrary: segment },
  { weight: 1, arbitrary: hostileNumber },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 30 }).map(pct) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 3000 }).map((n) => 'x'.repeat(n)) },
);

/** A value for a parameter: mostly in its range (so the route works), often hostile. */
export function param(
  valid: fc.Arbitrary<string>,
  hostile: fc.Arbitrary<string> = hostileNumber,
): fc.Arbitrary<string> {
  return fc.oneof({ weight: 7, arbitrary: valid }, { weight: 1, arbitrary: hostile });
}

export const intIn = (min: number, max: number) => fc.integer({ min, max }).map(String);
export const numIn = (min: number, max: number) =>
  fc.double({ min, max, noNaN: true, noDefaultInfinity: true }).map((d) => pct(String(d)));
export const oneOf = <T extends string>(...xs: T[]): fc.Arbitrary<T> => fc.constantFrom(...xs);

/** How a parameter is written: `k=v`, repeated, as an array, bare, empty, or with odd names. */
function written(k: string, v: string, v2: string, form: number): string {
  switch (form) {
    case 0:
      return `${k}=${v}`;
    case 1:
      return `${k}=${v}&${k}=${v2}`;
    case 2:
      return `${k}%5B%5D=${v}`;
    case 3:
      return `${k}[]=${v}&${k}[]=${v2}`;
    case 4:
      return `${k}[0]=${v}`;
    case 5:
      return `${k}`;
    case 6:
      return `${k}=`;
    case 7:
      return `${k}=${v},${v2}`;
    case 8:
      return `${k.toUpperCase()}=${v}`;
    case 9:
      return `${k}[a]=${v}`;
    default:
      return `${k}=${v}`;
  }
}

/** A query string over the endpoint's parameters, each present or not, written in some form, plus junk. */
export function query(
  params: Record<string, fc.Arbitrary<string>>,
  required: readonly string[] = [],
): fc.Arbitrary<string> {
  const names = Object.keys(params);
  const one = (k: string) => {
    const w = fc
      .tuple(
        params[k]!,
        params[k]!,
        fc.oneof({ weight: 80, arbitrary: fc.constant(0) }, { weight: 6, arbitrary: fc.integer({ min: 1, max: 9 }) }),
      )
      .map(([v, v2, form]) => written(k, v, v2, form));
    // A required parameter is left out now and then; an optional one half of the time.
    return fc.option(w, { freq: required.includes(k) ? 40 : 2 });
  };
  const junk = fc.oneof(
    { weight: 10, arbitrary: fc.constant('') },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '&&&',
        '=1',
        '=',
        '&=&',
        '%00=%00',
        'x=1;y=2',
        '__proto__=1',
        'constructor[prototype][x]=1',
        'a=%ZZ',
        '%ZZ=1',
        '?=?',
        'x'.repeat(3000) + '=1',
      ),
    },
    { weight: 1, arbitrary: fc.tuple(hostileText, hostileText).map(([k, v]) => `${k}=${v}`) },
    {
      weight: 1,
      arbitrary: fc
        .integer({ min: 100, max: 400 })
        .map((n) => Array.from({ length: n }, (_, i) => `p${i}=${i}`).join('&')),
    },
  );
  return fc.tuple(fc.tuple(...names.map(one)), junk).map(([parts, extra]) => {
    const all = [...parts.filter((p): p is string => p !== null), ...(extra ? [extra] : [])];
    return all.length === 0 ? '' : `?${all.join('&')}`;
  });
}

/** A comma-separated or repeated list of selectors (names, values, categories, hostile). */
export const selectorText: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom(...CLASS_NAMES, ...CATEGORIES, 'labelled', '0', '1', '3', '255', '256', '-1'),
  },
  { weight: 2, arbitrary: hostileText },
);
export const selectorList: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.array(selectorText, { minLength: 1, maxLength: 5 }).map((xs) => xs.join(',')) },
  {
    weight: 1,
    arbitrary: fc
      .integer({ min: 200, max: 600 })
      .map((n) => Array.from({ length: n }, (_, i) => CLASS_NAMES[i % CLASS_NAMES.length]).join(',')),
  },
  { weight: 1, arbitrary: fc.constantFrom(',', ',,,', '%2C', ' , ', 'adipose,', ',adipose', 'adipose,,fold') },
);

// ---- JSON bodies ---------------------------------------------------------------------------------

/** JSON text put verbatim into a body (tokens JSON.stringify cannot write, deep nesting). */
export class Raw {
  constructor(readonly text: string) {}
}

export function toJson(v: unknown): string {
  if (v instanceof Raw) return v.text;
  if (Array.isArray(v)) return `[${v.map(toJson).join(',')}]`;
  if (v !== null && typeof v === 'object')
    return `{${Object.entries(v)
      .map(([k, x]) => `${JSON.stringify(k)}:${toJson(x)}`)
      .join(',')}}`;
  return JSON.stringify(v) ?? 'null';
}

export const deepArray = (depth: number, inner = '') => new Raw(`${'['.repeat(depth)}${inner}${']'.repeat(depth)}`);
export const deepObject = (depth: number, key = 'a') => new Raw(`${`{"${key}":`.repeat(depth)}1${'}'.repeat(depth)}`);

const RAW_NUMBERS = [
  '1e400',
  '-1e400',
  '1e-400',
  '-0',
  '9007199254740993',
  '4294967296',
  '4294967295',
  '1e308',
  '0.1',
  '1.0000000000000002',
  '100001',
  '100000',
  '99999',
  '2049',
  '7',
  '-1',
  '0',
  '1',
  '0.5',
  '1E2',
  '123456789012345678901234567890',
];

/** Any JSON value, with the numbers JSON.stringify cannot write and some odd shapes. */
const hostileJsonValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...RAW_NUMBERS).map((t) => new Raw(t)) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      null,
      true,
      false,
      '',
      '0',
      'NaN',
      [],
      {},
      [null],
      ['adipose'],
      { $ref: '#/x' },
      { __proto__: null },
    ),
  },
  { weight: 1, arbitrary: fc.constantFrom(10, 100, 1000, 5000).map((d) => deepArray(d)) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 3000 }).map((n) => 'x'.repeat(n)) },
);

const v = <T>(valid: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 8, arbitrary: valid as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: hostileJsonValue });
const selector = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom<unknown>(...CLASS_NAMES.slice(1), ...CATEGORIES) },
  { weight: 1, arbitrary: fc.integer({ min: -2, max: 300 }) },
  { weight: 1, arbitrary: hostileJsonValue },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 70 }) },
);

/** A GeoJSON polygon geometry: ring shapes from fine to absurd (5-deep-thousand nesting not here). */
export const ringOf = (n: number, cx = 1500, cy = 1200, r = 1000): number[][] => {
  const out: number[][] = [];
  for (let i = 0; i < n - 1; i++)
    out.push([
      Math.round(cx + r * Math.cos((2 * Math.PI * i) / (n - 1))),
      Math.round(cy + r * Math.sin((2 * Math.PI * i) / (n - 1))),
    ]);
  out.push(out[0] ?? [0, 0]);
  return out;
};
/**
 * A closed "comb" ring of n positions (closing one included): a zigzag whose every edge spans the
 * full height h, between x0 and x0 + w, closed back along a strip above y0. Each edge crosses
 * every horizontal line of the comb: the worst case for structures that bucket edges by y.
 */
export const combRing = (n: number, x0 = 500, y0 = 200, w = 2000, h = 2000): number[][] => {
  const teeth = Math.max(2, n - 3);
  const out: number[][] = [];
  for (let i = 0; i < teeth; i++) out.push([x0 + (w * i) / (teeth - 1), i % 2 === 0 ? y0 : y0 + h]);
  out.push([x0 + w, y0 - 10], [x0, y0 - 10], out[0]!);
  return out;
};
const polygon: fc.Arbitrary<unknown> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .tuple(
        fc.integer({ min: 4, max: 200 }),
        fc.integer({ min: 0, max: 3000 }),
        fc.integer({ min: 0, max: 2500 }),
        fc.integer({ min: 1, max: 2000 }),
      )
      .map(([n, x, y, r]) => ({ type: 'Polygon', coordinates: [ringOf(n, x, y, r)] })),
  },
  {
    weight: 1,
    arbitrary: fc
      .array(fc.array(fc.array(v(fc.integer({ min: -10, max: 4000 })), { maxLength: 3 }), { maxLength: 8 }), {
        maxLength: 3,
      })
      .map((c) => ({ type: 'Polygon', coordinates: c })),
  },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 1, max: 50 }).map((k) => ({
      type: 'MultiPolygon',
      coordinates: Array.from({ length: k }, (_, i) => [ringOf(5, 100 + i * 50, 1200, 40)]),
    })),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom<unknown>(
      {
        type: 'Polygon',
        coordinates: [
          [
            [0, 0],
            [1, 0],
            [0, 0],
          ],
        ],
      },
      {
        type: 'Polygon',
        coordinates: [
          [
            [0, 0],
            [0, 0],
            [0, 0],
            [0, 0],
          ],
        ],
      },
      {
        type: 'Polygon',
        coordinates: [
          [
            [new Raw('1e400'), 0],
            [1, 0],
            [1, 1],
            [0, 0],
          ],
        ],
      },
      {
        type: 'Polygon',
        coordinates: [
          [
            [-1e308, -1e308],
            [1e308, -1e308],
            [1e308, 1e308],
            [-1e308, -1e308],
          ],
        ],
      },
      {
        type: 'Polygon',
        coordinates: [
          [
            ['0', '0'],
            ['1', '0'],
            ['1', '1'],
            ['0', '0'],
          ],
        ],
      },
      {
        type: 'Polygon',
        coordinates: [
          [
            [0, 0, 0],
            [3000, 0, 0],
            [3000, 2400, 0],
            [0, 0, 0],
          ],
        ],
      },
      { type: 'Polygon', coordinates: [[null, null, null, null]] },
      { type: 'Polygon', coordinates: [] },
      { type: 'Polygon', coordinates: [[]] },
      { type: 'Polygon', coordinates: 'x' },
      {
        type: 'MultiPolygon',
        coordinates: [
          [
            [
              [0, 0],
              [3000, 0],
              [3000, 2400],
              [0, 0],
            ],
          ],
        ],
      },
      {
        type: 'MultiPolygon',
        coordinates: [
          [
            [0, 0],
            [3000, 0],
            [3000, 2400],
            [0, 0],
          ],
        ],
      },
      { type: 'MultiPolygon', coordinates: [1, 2, 3] },
      { type: 'GeometryCollection', geometries: [] },
      { type: 'Feature', geometry: { type: 'Polygon', coordinates: [] } },
      {
        type: 'Polygon',
        coordinates: [
          [
            [0, 0],
            [3000, 0],
            [3000, 2400],
            [0, 2400],
            [0, 0],
          ],
        ],
        crs: { type: 'name' },
        bbox: [0, 0, 1, 1],
      },
      {
        type: 'Polygon',
        coordinates: [
          [
            [0, 0],
            [3000, 2400],
            [3000, 0],
            [0, 2400],
            [0, 0],
          ],
        ],
      },
    ),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(100, 1000, 5000).map((d) => ({ type: 'Polygon', coordinates: deepArray(d, '0') })),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(10_001, 20_000).map((n) => ({
      type: 'Polygon',
      coordinates: Array.from({ length: n }, () => ringOf(4, 10, 10, 5)).map((r) => r),
    })),
  },
);

/** A SampleRequest where any field may be missing, valid, or hostile, plus fields that do not exist. */
export const sampleRequest: fc.Arbitrary<Record<string, unknown>> = fc
  .record(
    {
      classes: v(fc.array(selector, { minLength: 0, maxLength: 6 })),
      weights: v(
        fc.array(fc.oneof(fc.double({ min: 0, max: 1e6, noNaN: true }), fc.constantFrom(-1, 0, 1e7)), { maxLength: 6 }),
      ),
      balance: v(fc.constantFrom('classes', 'slides', 'classes-per-slide', 'CLASSES', '')),
      criterion: v(fc.constantFrom('fraction', 'center', 'centre')),
      minFraction: v(fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom(-0.1, 1.1, 0, 1))),
      slides: v(
        fc.array(
          fc.oneof(
            fc.constantFrom(...KNOWN_IDS),
            fc.constantFrom('../tumor_083', 'tumor_083\u0000', 'TUMOR_083', 'x'.repeat(200), '', '/etc/passwd', '..'),
          ),
          { maxLength: 4 },
        ),
      ),
      region: v(
        fc.record(
          {
            rect: v(
              fc.record(
                {
                  x: v(fc.integer({ min: 0, max: 3500 })),
                  y: v(fc.integer({ min: 0, max: 2600 })),
                  width: v(fc.integer({ min: 0, max: 4000 })),
                  height: v(fc.integer({ min: 0, max: 4000 })),
                },
                { requiredKeys: [] },
              ),
            ),
            polygon: v(polygon),
            within: v(fc.array(fc.oneof(selector, fc.constant('labelled')), { maxLength: 4 })),
            withinFraction: v(fc.double({ min: 0, max: 1, noNaN: true })),
          },
          { requiredKeys: [] },
        ),
      ),
      exclude: v(
        fc.record(
          {
            classes: v(fc.array(selector, { maxLength: 3 })),
            categories: v(fc.array(fc.constantFrom(...CATEGORIES, 'x', ''), { maxLength: 3 })),
            maxFraction: v(fc.double({ min: 0, max: 1, noNaN: true })),
          },
          { requiredKeys: [] },
        ),
      ),
      size: v(fc.constantFrom(8, 16, 32, 64, 128, 256, 7, 2049)),
      level: v(fc.integer({ min: 0, max: 5 })),
      mpp: v(fc.constantFrom(0.05, 0.24, 0.25, 0.5, 1, 2, 8, 100, 100.5)),
      count: v(fc.integer({ min: 1, max: 40 })),
      seed: v(fc.nat()),
      epoch: v(fc.nat({ max: 1_000_000_000 })),
      shard: v(fc.integer({ min: 0, max: 4 })),
      shards: v(fc.integer({ min: 1, max: 4 })),
      format: v(fc.constantFrom('jpeg', 'png', 'webp', 'gif', 'JPEG')),
    },
    { requiredKeys: ['classes'] },
  )
  .chain((r) =>
    // Now and then a field the schema does not know, or an own "__proto__" / "constructor" key, as
    // JSON.parse makes them (an object literal would set the prototype instead).
    fc
      .oneof(
        { weight: 5, arbitrary: fc.constant(null) },
        {
          weight: 1,
          arbitrary: fc.tuple(
            fc.constantFrom('__proto__', 'constructor', 'unknownField', 'prototype', ''),
            hostileJsonValue,
          ),
        },
      )
      .map((extra) =>
        extra === null
          ? r
          : Object.defineProperty({ ...r }, extra[0], {
              value: extra[1],
              enumerable: true,
              writable: true,
              configurable: true,
            }),
      ),
  );

/** A SampleRequest of valid values only (the sampler's success paths, with their odd corners). */
export const validSampleRequest: fc.Arbitrary<Record<string, unknown>> = fc
  .record(
    {
      classes: fc.array(
        fc.constantFrom<unknown>('adipose', 'metastasis', 'connective-tissue', 'fold', 'background', 3, 1, 4),
        { minLength: 1, maxLength: 3 },
      ),
      balance: fc.constantFrom('classes', 'slides', 'classes-per-slide'),
      criterion: fc.constantFrom('fraction', 'center'),
      minFraction: fc.double({ min: 0, max: 1, noNaN: true }),
      slides: fc.subarray(['tumor_083', 'tumor_107'], { minLength: 1 }),
      region: fc.record(
        {
          rect: fc.record({
            x: fc.integer({ min: 0, max: 2500 }),
            y: fc.integer({ min: 0, max: 2000 }),
            width: fc.integer({ min: 1, max: 3000 }),
            height: fc.integer({ min: 1, max: 3000 }),
          }),
          withinFraction: fc.double({ min: 0, max: 1, noNaN: true }),
          within: fc.constantFrom(['labelled'], ['background'], ['adipose', 'metastasis']),
        },
        { requiredKeys: [] },
      ),
      exclude: fc.record(
        {
          categories: fc.constantFrom(['artefact'], []),
          classes: fc.constantFrom(['fold'], ['ink', 'blur']),
          maxFraction: fc.double({ min: 0, max: 1, noNaN: true }),
        },
        { requiredKeys: [] },
      ),
      size: fc.constantFrom(8, 16, 32, 64, 100, 128, 256, 512),
      level: fc.integer({ min: 0, max: 3 }),
      count: fc.integer({ min: 1, max: 30 }),
      seed: fc.nat(),
      epoch: fc.nat({ max: 1_000_000_000 }),
      shards: fc.integer({ min: 1, max: 5 }),
      format: fc.constantFrom('jpeg', 'png', 'webp'),
    },
    { requiredKeys: ['classes'] },
  )
  .chain((r) =>
    typeof r.shards === 'number'
      ? fc.integer({ min: 0, max: r.shards - 1 }).map((shard) => ({ ...r, shard }))
      : fc.constant(r),
  )
  .chain((r) =>
    fc
      .option(fc.constantFrom(0.25, 0.3, 0.5, 1, 2, 0.1 + 0.2), { freq: 3 })
      .map((mpp) => (mpp === null || 'level' in r ? r : { ...r, mpp })),
  );

export interface BodyCase {
  label: string;
  body: string | Buffer;
  headers: Record<string, string>;
}

const JSON_TYPE = { 'content-type': 'application/json' };
const json = (label: string, body: string, headers: Record<string, string> = JSON_TYPE): BodyCase => ({
  label,
  body,
  headers,
});

/** Bodies for POST /samples and /batches under a body limit of `limit` bytes. */
export function bodyCase(limit: number): fc.Arbitrary<BodyCase> {
  const valid = toJson({ classes: ['adipose'], count: 2, size: 32 });
  return fc.oneof(
    { weight: 6, arbitrary: sampleRequest.map((r) => json('hostile SampleRequest', toJson(r))) },
    { weight: 4, arbitrary: validSampleRequest.map((r) => json('valid SampleRequest', toJson(r))) },
    { weight: 2, arbitrary: fc.json().map((t) => json('fc.json()', t)) },
    {
      weight: 2,
      arbitrary: fc
        .anything({ maxDepth: 3, withNullPrototype: true, withBoxedValues: true, withSparseArray: true })
        .map((a) => json('fc.anything()', safeStringify(a))),
    },
    {
      weight: 2,
      arbitrary: fc.constantFrom(1_000, 5_000, 10_000, 100_000).chain((d) =>
        fc.constantFrom(
          json(`array nested ${d} deep`, deepArray(d).text),
          json(`object nested ${d} deep`, deepObject(d).text),
          json(`classes nested ${d} deep`, toJson({ classes: deepArray(d, '"adipose"') })),
          json(`unknown key nested ${d} deep`, toJson({ classes: ['adipose'], x: deepObject(d) })),
          json(
            `polygon nested ${d} deep`,
            toJson({
              classes: ['adipose'],
              region: { polygon: { type: 'Polygon', coordinates: deepArray(d, '0') } },
            }),
          ),
          json(`region nested ${d} deep`, toJson({ classes: ['adipose'], region: deepObject(d, 'rect') })),
        ),
      ),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        json('100,000 classes', toJson({ classes: Array.from({ length: 100_000 }, () => 'fold') })),
        json(
          '10,001 slides',
          toJson({ classes: ['adipose'], slides: Array.from({ length: 10_001 }, () => 'tumor_083') }),
        ),
        json(
          '10,000 slides',
          toJson({
            classes: ['adipose'],
            count: 2,
            slides: Array.from({ length: 10_000 }, (_, i) => KNOWN_IDS[i % 6]),
          }),
        ),
        json('65 weights', toJson({ classes: ['adipose'], weights: Array.from({ length: 65 }, () => 1) })),
        json('100,000 empty arrays', `[${Array.from({ length: 100_000 }, () => '[]').join(',')}]`),
        json('100,000 keys', `{${Array.from({ length: 60_000 }, (_, i) => `"k${i}":0`).join(',')}}`),
        json('a long key', `{"${'k'.repeat(500_000)}":1}`),
        json('duplicate keys', '{"classes":["adipose"],"classes":["nope"],"count":2,"count":1e400}'),
      ),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom(4, 1_000, 50_000, 99_999, 100_001, 200_000).map((n) =>
        json(
          `polygon of ${n} vertices`,
          toJson({
            classes: ['adipose'],
            count: 4,
            size: 32,
            region: { polygon: { type: 'Polygon', coordinates: [ringOf(n)] } },
          }),
        ),
      ),
    },
    { weight: 2, arbitrary: fc.nat({ max: valid.length - 1 }).map((n) => json('truncated JSON', valid.slice(0, n))) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        json('over the size limit', `{"classes":["${'a'.repeat(limit + 1)}"]}`),
        json('exactly at the size limit', `{"classes":["adipose"],"x":"${'a'.repeat(limit - 30)}"}`),
        json('empty body', ''),
        json('whitespace', ' \n\t '),
        json('a BOM and JSON', `\ufeff${valid}`),
        {
          label: 'invalid UTF-8',
          body: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]),
          headers: JSON_TYPE,
        },
        {
          label: 'UTF-16 JSON',
          body: Buffer.from(`\ufeff${valid}`, 'utf16le'),
          headers: { 'content-type': 'application/json; charset=utf-16' },
        },
        json('koi8 charset', valid, { 'content-type': 'application/json; charset=koi8-r' }),
        json('bogus charset', valid, { 'content-type': 'application/json; charset=x-nope' }),
        json('NUL bytes', `{"classes":["adi\u0000pose"]}`),
        json('lone surrogate escape', '{"classes":["\\ud800"]}'),
        json('comments', '{"classes":["adipose"] /* x */}'),
        json('trailing comma', '{"classes":["adipose"],}'),
        json('single quotes', "{'classes':['adipose']}"),
        json('NaN literal', '{"classes":["adipose"],"count":NaN}'),
        json('top-level string', '"adipose"'),
        json('top-level number', '1'),
        json('top-level null', 'null'),
        json('two documents', `${valid}${valid}`),
      ),
    },
    {
      weight: 2,
      arbitrary: fc
        .constantFrom(
          'text/plain',
          'application/x-www-form-urlencoded',
          'multipart/form-data; boundary=x',
          'application/xml',
          'application/vnd.api+json',
          'application/json-seq',
          'APPLICATION/JSON',
          'application/json;charset="utf-8"',
          'application/json, text/plain',
          '*/*',
          'application/*',
          'json',
          ';',
          `application/${'x'.repeat(3000)}`,
          'application/octet-stream',
          'image/png',
        )
        .map((t) => json(`content type ${t.slice(0, 40)}`, valid, { 'content-type': t })),
    },
    { weight: 1, arbitrary: fc.constant({ label: 'no content type', body: Buffer.from(valid), headers: {} }) },
    {
      weight: 1,
      arbitrary: fc.constantFrom<BodyCase>(
        { label: 'gzip JSON', body: gzipSync(valid), headers: { ...JSON_TYPE, 'content-encoding': 'gzip' } },
        { label: 'deflate JSON', body: deflateSync(valid), headers: { ...JSON_TYPE, 'content-encoding': 'deflate' } },
        {
          label: 'gzip bomb',
          body: gzipSync(`{"classes":["${'a'.repeat(32 << 20)}"]}`),
          headers: { ...JSON_TYPE, 'content-encoding': 'gzip' },
        },
        {
          label: 'broken gzip',
          body: Buffer.from('not gzip at all'),
          headers: { ...JSON_TYPE, 'content-encoding': 'gzip' },
        },
        { label: 'brotli claimed', body: Buffer.from(valid), headers: { ...JSON_TYPE, 'content-encoding': 'br' } },
        {
          label: 'unknown encoding',
          body: Buffer.from(valid),
          headers: { ...JSON_TYPE, 'content-encoding': 'compress' },
        },
        {
          label: 'stacked encodings',
          body: gzipSync(gzipSync(valid)),
          headers: { ...JSON_TYPE, 'content-encoding': 'gzip, gzip' },
        },
      ),
    },
  );
}

/** JSON.stringify for fc.anything(): no BigInt, undefined at the top becomes an empty body. */
function safeStringify(a: unknown): string {
  try {
    return JSON.stringify(a, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x)) ?? '';
  } catch {
    return '';
  }
}
