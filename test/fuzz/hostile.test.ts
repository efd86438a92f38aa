/**
 * Property-based hostile input (fast-check, fixed seed): every endpoint of openapi.yaml, plus
 * unknown paths and methods, driven in-process through supertest with negative, huge,
 * fractional, NaN and overflowing numbers, traversal-looking and odd ids, wrong formats and
 * styles, and malformed, deep, huge and oversized JSON bodies. Every answer must be a valid 2xx
 * or a 4xx problem document (status in the body = HTTP status), never a 5xx, never later than
 * 5 s, never naming the data directory or showing a stack or SQL. Afterwards the app still
 * answers /healthz and the process's memory is back near where it started.
 */
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hashKey } from '../../src/auth/keys.js';
import { ringCrossings } from '../../src/labels/shapes.js';
import {
  ANSWER_BOUND_MS,
  IMAGE_OK,
  JSON_OK,
  PNG_OK,
  XML_OK,
  describeSent,
  exposeGc,
  hit,
  memoryNow,
  serveFuzz,
  violation,
  watchEventLoop,
  type Answer,
  type App,
  type FuzzServed,
  type Method,
  type Sent,
} from '../support/fuzz-app.js';
import {
  bodyCase,
  hostileNumber,
  hostileText,
  READABLE_IDS,
  intIn,
  numIn,
  oneOf,
  param,
  query,
  ringOf,
  combRing,
  segment,
  selectorList,
  slideId,
  toJson,
  deepArray,
} from '../support/fuzz-arbitraries.js';

/** One seed for the whole file: a failure names its run and replays exactly. */
const SEED = 20_250_616;
/** /batches of at most this many samples stream in well under the bound (413 above). */
const BATCH_CAP = 64;
/** The extra apps (other limits, keys, body size) get small caches: only the main app's should show in memory. */
const SMALL_CACHES = { tileCacheBytes: 4 << 20, labelCacheBytes: 8 << 20 };
const MB = 1024 * 1024;
/** The event loop may stop for this long at most while hostile shapes are handled (a blocked loop stops health checks too). */
const STALL_BOUND_MS = 100;
/** A 99,990-vertex comb whose teeth stand 1 px apart, x 1 .. 99,987 (most of it right of the slides; patch centres, on even x, fall inside). */
const INTEGER_COMB = combRing(99_990, 1, 200, 99_986, 2000);
/** The service's default MAX_BODY_BYTES. */
const DEFAULT_BODY_LIMIT = 2 * MB;

let served: FuzzServed;
let app: App;
let gc: () => void;
let baseline: ReturnType<typeof memoryNow>;
const tally = new Map<string, Map<string, number>>();
let slowest: { ms: number; what: string } = { ms: 0, what: '' };
/** What would have stopped a real server: exceptions and rejections nobody handled. */
const crashes: string[] = [];
/** RSS (MB, after a forced GC) at the start and after each group. */
const memorySeries: string[] = [];
const onCrash = (e: unknown) => void crashes.push(String((e as Error)?.stack ?? e).slice(0, 2000));

beforeAll(async () => {
  process.on('uncaughtException', onCrash);
  process.on('unhandledRejection', onCrash);
  served = await serveFuzz();
  app = await served.app({ maxBatchSamples: BATCH_CAP });
  gc = exposeGc();
  // Serve a bit of everything, large renders included, before the baseline: the baseline is a
  // service that has worked (code loaded, libvips and malloc pools grown), not a cold process.
  const warm = [
    '/healthz',
    '/slides',
    '/classes',
    '/dataset',
    '/slides/tumor_083',
    ...READABLE_IDS.flatMap((id) => [
      `/slides/${id}/thumbnail.png?maxSize=2048`,
      `/slides/${id}/thumbnail.webp?maxSize=1024`,
      `/slides/${id}/image.dzi`,
    ]),
    '/slides/tumor_083/region?x=0&y=0&width=2048&height=2048&format=png',
    '/slides/cmu-1-small-region/region?x=0&y=0&width=2048&height=2048&format=webp',
    '/slides/tumor_083/region?x=0&y=0&width=2048&height=2048&layer=mask&format=npy',
    '/slides/tumor_107/region?x=0&y=0&width=1024&height=1024&mpp=0.5&format=raw',
    ...[0, 1, 2, 3, 4, 5].flatMap((c) => [
      `/slides/tumor_083/image_files/12/${c}_1.webp?tileSize=254&overlap=1`,
      `/slides/tumor_083/mask_files/12/${c}_1.png?style=color`,
      `/slides/tumor_083/image_files/12/${c}_2.jpeg`,
    ]),
    '/slides/tumor_083/image_files/12/0_0.png?tileSize=2048&overlap=32',
    '/slides/tumor_083/mask_files/12/0_0.png?tileSize=2048',
  ];
  for (const path of warm) await hit(app, { method: 'GET', path });
  // ... and concurrently, as the tight-limits group will (libvips threads grow their own pools).
  for (let round = 0; round < 2; round++) {
    await Promise.all(
      READABLE_IDS.map((id, i) =>
        hit(app, {
          method: 'GET',
          path: `/slides/${id}/region?x=${i * 10}&y=${round * 10}&width=2048&height=2048&format=${i % 2 ? 'png' : 'webp'}&mpp=${0.3 + i * 0.1}`,
          deadlineMs: 60_000,
        }),
      ),
    );
  }
  await hit(app, {
    method: 'POST',
    path: '/samples',
    headers: { 'content-type': 'application/json' },
    body: toJson({ classes: ['adipose', 'fold'], count: 2000 }),
  });
  const batch = (format: string) =>
    hit(app, {
      method: 'POST',
      path: '/batches',
      headers: { 'content-type': 'application/json' },
      body: toJson({ classes: ['adipose'], count: 6, size: 2048, minFraction: 0, format }),
      deadlineMs: 60_000,
    });
  await Promise.all([batch('png'), batch('png'), batch('jpeg'), batch('webp'), batch('png'), batch('jpeg')]);
  baseline = memoryNow(gc);
  memorySeries.push(`start ${(baseline.rss / MB).toFixed(0)}`);
});

afterEach((ctx) => {
  memorySeries.push(`${ctx.task.name.split(':')[0]!.slice(0, 24)} ${(memoryNow(gc).rss / MB).toFixed(0)}`);
});

afterAll(() => {
  process.off('uncaughtException', onCrash);
  process.off('unhandledRejection', onCrash);
  const lines = [...tally].map(
    ([group, statuses]) =>
      `  ${group.padEnd(14)} ${[...statuses]
        .sort((a, b) => a[0].localeCompare(b[0]))
        .map(([s, n]) => `${s} x${n}`)
        .join(', ')}`,
  );
  console.log(
    `hostile input, seed ${SEED}: statuses per group\n${lines.join('\n')}\n  slowest answer ${Math.round(slowest.ms)} ms: ${slowest.what}\n  RSS (MB) through the groups: ${memorySeries.join(' | ')}`,
  );
  served?.cleanup();
});

function problemCode(a: Answer): string {
  try {
    return String((JSON.parse(a.body.toString('utf8')) as { code?: unknown }).code ?? '-');
  } catch {
    return '-';
  }
}

/** Sends one request and fails with the request, the reason and the service's error log. */
async function check(group: string, target: App, sent: Sent): Promise<Answer> {
  const before = served.errors.length;
  const a = await hit(target, sent);
  const counts = tally.get(group) ?? new Map<string, number>();
  const key = a.status >= 400 ? `${a.status} ${problemCode(a)}` : String(a.status);
  // FUZZ_DEBUG=<group> prints every answer of that group (to see what the generators reach).
  if (process.env.FUZZ_DEBUG === group)
    console.log(a.status, sent.path.slice(0, 200), a.body.toString('utf8').slice(0, 200));
  counts.set(key, (counts.get(key) ?? 0) + 1);
  tally.set(group, counts);
  if (a.ms > slowest.ms) slowest = { ms: a.ms, what: describeSent(sent).slice(0, 200) };
  const why = violation(sent, a, { secrets: [served.dataDir, served.dir, served.indexPath, process.cwd()] });
  if (why) {
    const log = served.errors.slice(before).map((l) => {
      const e = JSON.parse(l) as { msg?: string; err?: { stack?: string } };
      return `    ${e.msg ?? ''}${e.err?.stack ? `\n      ${e.err.stack.split('\n').slice(0, 8).join('\n      ')}` : ''}`;
    });
    throw new Error(
      `${why}\n  request: ${describeSent(sent)}${log.length > 0 ? `\n  service log:\n${log.join('\n')}` : ''}`,
    );
  }
  return a;
}

/** Follow-up checks on a 2xx: the links an answer hands out must work too. */
type Then = (a: Answer, target: App) => Promise<void>;

function run<T>(
  group: string,
  arb: fc.Arbitrary<T>,
  toSent: (t: T) => Sent,
  numRuns: number,
  target: () => App = () => app,
  then?: Then,
): Promise<void> {
  return fc.assert(
    fc.asyncProperty(arb, async (t) => {
      const sent = toSent(t);
      const a = await check(group, target(), sent);
      if (then && a.status >= 200 && a.status < 300) await then(a, target());
    }),
    { seed: SEED, numRuns },
  );
}

/** GETs a link the service handed out: it must answer 200 with the given content type. */
async function follow(group: string, target: App, url: string, ok: RegExp): Promise<void> {
  const a = await check(group, target, get(url, ok));
  if (a.status !== 200)
    throw new Error(
      `the service handed out ${url}, which answers ${a.status}: ${a.body.toString('utf8').slice(0, 300)}`,
    );
}

const get = (path: string, ok?: RegExp): Sent => ({ method: 'GET', path, ...(ok ? { ok } : {}) });
/** DeepZoom addresses that exist more often than not (levels 8-12 of slides of 1,500-3,000 px). */
const dzLevel = param(fc.oneof({ weight: 3, arbitrary: intIn(8, 12) }, { weight: 1, arbitrary: intIn(0, 14) }));
const dzColRow = param(fc.oneof({ weight: 3, arbitrary: intIn(0, 3) }, { weight: 1, arbitrary: intIn(0, 13) }));
const geometry = {
  tileSize: param(oneOf('254', '256', '512', '16', '2048', '1024', '17', '255')),
  overlap: param(oneOf('0', '1', '2', '8', '32', '7', '31')),
};

describe('hostile input: every answer is a valid 2xx or a 4xx problem, in time, without leaks', () => {
  it('service and catalogue: /healthz, /readyz, /metrics, /classes, /dataset, /openapi.yaml, /docs, /slides', async () => {
    const fixed = fc.tuple(
      fc.constantFrom('/healthz', '/readyz', '/metrics', '/classes', '/dataset', '/openapi.yaml', '/docs'),
      query({ x: hostileText, format: hostileText, limit: hostileNumber }),
    );
    await run('service', fixed, ([p, q]) => get(`${p}${q}`), 120);
    const slides = query({
      class: param(selectorList, hostileText),
      category: param(selectorList, hostileText),
      status: param(oneOf('ok', 'unsupported'), hostileText),
      limit: param(intIn(1, 1000)),
      offset: param(intIn(0, 1_000_000)),
    });
    await run(
      '/slides',
      slides,
      (q) => get(`/slides${q}`, JSON_OK),
      200,
      undefined,
      async (a, target) => {
        const next = (JSON.parse(a.body.toString('utf8')) as { next: string | null }).next;
        if (next) await follow('/slides next', target, next, JSON_OK);
      },
    );
  });

  it('one slide and its thumbnails: /slides/{id}, /slides/{id}/thumbnail.{jpeg,png,webp}', async () => {
    await run('/slides/{id}', segment, (id) => get(`/slides/${id}`, JSON_OK), 200);
    const ext = fc.oneof(
      { weight: 6, arbitrary: oneOf('jpeg', 'png', 'webp') },
      { weight: 1, arbitrary: oneOf('gif', 'JPEG', 'jpg', 'jpeg%00.png', 'jpeg%2f..', '', 'png.webp', 'tiff', 'svg') },
    );
    const thumb = fc.tuple(slideId, ext, query({ maxSize: param(intIn(16, 600)) }));
    await run('thumbnail', thumb, ([id, e, q]) => get(`/slides/${id}/thumbnail.${e}${q}`, IMAGE_OK), 150);
  });

  it('DeepZoom descriptors: /slides/{id}/image.dzi, /slides/{id}/mask.dzi', async () => {
    const dzi = fc.tuple(
      slideId,
      oneOf('image.dzi', 'mask.dzi', 'image.DZI', 'image.dzi%00', 'image.xml'),
      query({ ...geometry, format: param(oneOf('jpeg', 'png', 'webp'), hostileText) }),
    );
    await run('dzi', dzi, ([id, f, q]) => get(`/slides/${id}/${f}${q}`, XML_OK), 200);
  });

  it('slide tiles: /slides/{id}/image_files/{level}/{col}_{row}.{format}', async () => {
    const tile = fc.tuple(
      slideId,
      dzLevel,
      dzColRow,
      dzColRow,
      fc.oneof(
        { weight: 12, arbitrary: oneOf('jpeg', 'png', 'webp') },
        { weight: 1, arbitrary: oneOf('jpg', 'gif', 'JPEG', '', 'jpeg%00', 'jpeg.png', 'jpeg/x') },
      ),
      fc.oneof(
        { weight: 12, arbitrary: fc.constant('_') },
        { weight: 1, arbitrary: oneOf('-', '__', '%5f', ',', '_-', '') },
      ),
      query({ ...geometry, quality: param(intIn(30, 95)) }),
    );
    await run(
      'image_files',
      tile,
      ([id, level, col, row, fmt, sep, q]) =>
        get(`/slides/${id}/image_files/${level}/${col}${sep}${row}.${fmt}${q}`, IMAGE_OK),
      350,
    );
  });

  it('mask tiles: /slides/{id}/mask_files/{level}/{col}_{row}.png with style, classes, opacity', async () => {
    const tile = fc.tuple(
      slideId,
      dzLevel,
      dzColRow,
      dzColRow,
      fc.oneof(
        { weight: 12, arbitrary: fc.constant('png') },
        { weight: 1, arbitrary: oneOf('jpeg', 'PNG', 'webp', 'png%00', '') },
      ),
      fc.oneof(
        { weight: 3, arbitrary: query({ ...geometry, style: param(oneOf('raw'), hostileText) }) },
        {
          weight: 3,
          arbitrary: query(
            {
              ...geometry,
              style: oneOf('color'),
              classes: param(selectorList, hostileText),
              opacity: param(numIn(0, 1)),
            },
            ['style'],
          ),
        },
        {
          weight: 1,
          arbitrary: query({
            ...geometry,
            style: param(oneOf('raw', 'color'), hostileText),
            classes: param(selectorList, hostileText),
            opacity: param(numIn(0, 1)),
          }),
        },
      ),
    );
    await run(
      'mask_files',
      tile,
      ([id, level, col, row, fmt, q]) => get(`/slides/${id}/mask_files/${level}/${col}_${row}.${fmt}${q}`, PNG_OK),
      350,
    );
  });

  it('patches: /slides/{id}/region', async () => {
    const side = param(fc.oneof({ weight: 5, arbitrary: intIn(1, 300) }, { weight: 1, arbitrary: intIn(1, 8192) }));
    const rect = { x: param(intIn(0, 3500)), y: param(intIn(0, 2800)), width: side, height: side };
    const layerFormat = fc.oneof(
      { weight: 3, arbitrary: oneOf('jpeg', 'png', 'webp', 'raw', 'npy').map((f) => `image&format=${f}`) },
      { weight: 2, arbitrary: oneOf('png', 'raw', 'npy').map((f) => `mask&format=${f}`) },
      {
        weight: 1,
        arbitrary: fc
          .tuple(
            param(oneOf('image', 'mask'), hostileText),
            param(oneOf('jpeg', 'png', 'webp', 'raw', 'npy'), hostileText),
          )
          .map(([l, f]) => `${l}&format=${f}`),
      },
    );
    const pixels = { layer: layerFormat, quality: param(intIn(30, 100)) };
    const region = fc.tuple(
      slideId,
      fc.oneof(
        {
          weight: 3,
          arbitrary: query({ ...rect, level: param(intIn(0, 6)), ...pixels }, ['x', 'y', 'width', 'height']),
        },
        {
          weight: 2,
          arbitrary: query({ ...rect, mpp: param(numIn(0.05, 20)), ...pixels }, ['x', 'y', 'width', 'height']),
        },
        { weight: 1, arbitrary: query({ ...rect, level: param(intIn(0, 6)), mpp: param(numIn(0.05, 20)), ...pixels }) },
      ),
    );
    const ok = /^(image\/(jpeg|png|webp)|application\/(octet-stream|x-npy))(;|$)/;
    await run('region', region, ([id, q]) => get(`/slides/${id}/region${q}`, ok), 400);
  });

  it('POST /samples and POST /batches with hostile JSON bodies', async () => {
    const limit = 1 << 20;
    const samples = fc.tuple(bodyCase(limit), query({ x: hostileText }));
    // The descriptors' imageUrl and maskUrl must serve what they describe.
    await run(
      '/samples',
      samples,
      ([b, q]) => ({ method: 'POST', path: `/samples${q}`, headers: b.headers, body: b.body, ok: JSON_OK }),
      400,
      undefined,
      async (a, target) => {
        const items = (JSON.parse(a.body.toString('utf8')) as { items: Array<{ imageUrl: string; maskUrl: string }> })
          .items;
        for (const item of items.slice(0, 2)) {
          await follow('/samples urls', target, item.imageUrl, IMAGE_OK);
          await follow('/samples urls', target, item.maskUrl, PNG_OK);
        }
      },
    );
    await run(
      '/batches',
      bodyCase(limit),
      (b) => ({
        method: 'POST',
        path: '/batches',
        headers: b.headers,
        body: b.body,
        ok: /^application\/x-tar(;|$)/,
        deadlineMs: 30_000,
      }),
      150,
    );
  });

  it('huge GeoJSON reaches the sampler when the body limit allows it (200,000 vertices, combs, 5,000-deep nesting), the event loop never stalls', async () => {
    // Vertex cap above the largest case: else the 200,000 vertices stop at a 413 before the sampler.
    const big = await served.app({
      ...SMALL_CACHES,
      maxBodyBytes: 16 * MB,
      maxBatchSamples: BATCH_CAP,
      maxRegionVertices: 250_000,
    });
    const polygon = (coordinates: unknown, count = 4) => ({
      classes: ['adipose'],
      count,
      size: 32,
      minFraction: 0,
      region: { polygon: { type: 'Polygon', coordinates } },
    });
    const rnd = fc.sample(fc.integer({ min: 0, max: 3000 }), { seed: SEED, numRuns: 2 * 99_990 });
    const list = [
      // Every edge of a comb spans its full height: the polygon index must not copy edges into every band.
      // On integer x (teeth 1 px apart, as in the report: a 1.3 MB body), and finer than a pixel.
      { label: '99,990-vertex comb', body: polygon([INTEGER_COMB]) },
      { label: '99,990-vertex comb, 2,000 patches', body: polygon([INTEGER_COMB], 2_000) },
      { label: '99,990-vertex fine comb', body: polygon([combRing(99_990)]) },
      {
        label: 'comb with a comb-shaped hole',
        body: polygon([combRing(49_990), combRing(49_990, 700, 400, 1500, 1500)], 500),
      },
      {
        label: '99,990 random vertices (self-intersecting everywhere)',
        body: polygon([Array.from({ length: 99_990 }, (_, i) => [rnd[2 * i]!, rnd[2 * i + 1]! % 2400])]),
      },
      {
        label: '200,000 vertices',
        body: {
          classes: ['adipose'],
          count: 4,
          size: 32,
          region: { polygon: { type: 'Polygon', coordinates: [ringOf(200_000)] } },
        },
      },
      {
        label: '100,001 vertices in 2 rings',
        body: {
          classes: ['adipose'],
          count: 4,
          size: 32,
          region: { polygon: { type: 'Polygon', coordinates: [ringOf(50_001), ringOf(50_000, 1500, 1200, 200)] } },
        },
      },
      {
        label: '1,000 polygons of 101 vertices',
        body: {
          classes: ['adipose'],
          count: 4,
          size: 32,
          region: {
            polygon: {
              type: 'MultiPolygon',
              coordinates: Array.from({ length: 1000 }, (_, i) => [
                ringOf(101, 100 + (i % 40) * 70, 100 + Math.floor(i / 40) * 90, 30),
              ]),
            },
          },
        },
      },
      {
        label: '5,000-deep coordinates',
        body: {
          classes: ['adipose'],
          region: { polygon: { type: 'Polygon', coordinates: deepArray(5_000, '[0,0]') } },
        },
      },
      {
        label: '5,000-deep MultiPolygon',
        body: {
          classes: ['adipose'],
          region: { polygon: { type: 'MultiPolygon', coordinates: deepArray(5_000, '0') } },
        },
      },
      {
        label: '50,000-deep object',
        body: {
          classes: ['adipose'],
          region: { polygon: { type: 'Polygon', coordinates: [[[0, 0]]], extra: deepArray(50_000) } },
        },
      },
      { label: '10,000,000-char class name', body: { classes: ['a'.repeat(10_000_000)] } },
    ];
    // Serialised before the watch starts: the client shares the process and its loop.
    const cases = fc.constantFrom(...list.map((c) => ({ label: c.label, json: toJson(c.body) })));
    // Per request, the worst event-loop stall. express.json parses a body in one synchronous
    // JSON.parse (about 40 ms a MB of coordinates here): bodies above the default 2 MiB limit,
    // allowed by this app only, are reported but not held to the bound.
    const stalls: Array<{ what: string; bytes: number; stallMs: number }> = [];
    await fc.assert(
      fc.asyncProperty(fc.tuple(cases, oneOf('/samples', '/batches')), async ([c, path]) => {
        const sent: Sent = {
          method: 'POST',
          path,
          headers: { 'content-type': 'application/json' },
          body: c.json,
          ok: path === '/samples' ? JSON_OK : /^application\/x-tar(;|$)/,
          deadlineMs: path === '/samples' ? ANSWER_BOUND_MS : 30_000,
        };
        const stallMs = await leastStall(() => check('big GeoJSON', big, sent));
        stalls.push({ what: `${path} ${c.label}`, bytes: Buffer.byteLength(c.json), stallMs });
      }),
      { seed: SEED, numRuns: 40 },
    );
    const worst = (xs: typeof stalls) =>
      xs.reduce((a, b) => (b.stallMs > a.stallMs ? b : a), { what: 'none', bytes: 0, stallMs: 0 });
    const held = worst(stalls.filter((x) => x.bytes <= DEFAULT_BODY_LIMIT));
    const big16 = worst(stalls.filter((x) => x.bytes > DEFAULT_BODY_LIMIT));
    console.log(
      `big GeoJSON: worst event-loop stall ${held.stallMs.toFixed(0)} ms (${held.what}); bodies over 2 MiB: ${big16.stallMs.toFixed(0)} ms (${big16.what})`,
    );
    expect(stalls.filter((x) => x.bytes <= DEFAULT_BODY_LIMIT && /comb/.test(x.what)).length).toBeGreaterThan(3);
    expect(held.stallMs, `the event loop stalled ${held.stallMs.toFixed(0)} ms during ${held.what}`).toBeLessThan(
      STALL_BOUND_MS,
    );
  });

  it('hostile headers: If-None-Match, Authorization (with and without keys), Accept, Range, ids, content types on GET', async () => {
    const keyed = await served.app({
      ...SMALL_CACHES,
      apiKeys: [hashKey('data-key')],
      adminApiKeys: [hashKey('admin-key')],
      revokedApiKeys: [hashKey('old-key')],
    });
    const paths = [
      '/slides',
      '/slides/tumor_083',
      '/slides/tumor_083/image.dzi',
      '/slides/tumor_083/image_files/12/1_1.jpeg',
      '/slides/tumor_083/image_files/12/1_1.jpeg?tileSize=254&overlap=1',
      '/slides/tumor_083/mask_files/12/1_1.png?style=color',
      '/slides/tumor_083/thumbnail.png?maxSize=64',
      '/slides/tumor_083/region?x=0&y=0&width=64&height=64',
      '/classes',
      '/dataset',
      '/healthz',
      '/admin/ingest',
      '/metrics',
    ];
    const value = fc.oneof(
      {
        weight: 3,
        arbitrary: fc.constantFrom(
          '*',
          '""',
          '"x"',
          'W/"x"',
          ', , ,',
          '*, "a"',
          `${'"a",'.repeat(2000)}"b"`,
          'Bearer data-key',
          'Bearer admin-key',
          'Bearer old-key',
          'Bearer ',
          'Bearer  data-key',
          'bearer data-key',
          'Basic ZGF0YS1rZXk6',
          `Bearer ${'k'.repeat(600)}`,
          'Bearer \u00e9',
          'bytes=0-0',
          'bytes=-1',
          'bytes=99999999999-',
          'image/avif',
          '*/*;q=0',
          'application/json',
          'gzip, br, zstd',
          'text/html',
          'null',
          '0',
          '-1',
        ),
      },
      {
        weight: 1,
        arbitrary: fc.string({ unit: 'grapheme-ascii', maxLength: 60 }).map((x) => x.replace(/[\r\n]/g, '')),
      },
    );
    const header = fc.constantFrom(
      'If-None-Match',
      'Authorization',
      'Accept',
      'Range',
      'X-Request-Id',
      'Accept-Encoding',
      'Content-Type',
      'Origin',
      'If-Modified-Since',
      'Cookie',
      'X-Forwarded-For',
      'Transfer-Encoding-X',
    );
    const sent = fc.tuple(
      fc.constantFrom(...paths),
      fc.array(fc.tuple(header, value), { minLength: 1, maxLength: 4 }),
      fc.boolean(),
      oneOf<Method>('GET', 'GET', 'HEAD'),
    );
    let withKeys = false;
    await run(
      'headers',
      sent,
      ([path, hs, keys, method]) => {
        withKeys = keys;
        return { method, path, headers: Object.fromEntries(hs) };
      },
      200,
      () => (withKeys ? keyed : app),
    );
  });

  it('deliberately tight limits (1 render, no queue, 150 ms budget): concurrent renders get 2xx, 4xx or 503 BUSY/TIMEOUT', async () => {
    const tight = await served.app({
      ...SMALL_CACHES,
      maxConcurrentRenders: 1,
      maxQueuedRenders: 0,
      requestTimeoutMs: 150,
      maxBatchSamples: BATCH_CAP,
    });
    const one = fc.oneof(
      fc
        .tuple(fc.constantFrom(...READABLE_IDS), intIn(9, 12), intIn(0, 3), intIn(0, 3), oneOf('jpeg', 'png', 'webp'))
        .map(([id, l, c, r, f]): Sent =>
          get(`/slides/${id}/image_files/${l}/${c}_${r}.${f}?tileSize=254&overlap=1`, IMAGE_OK),
        ),
      fc
        .tuple(
          fc.constantFrom(...READABLE_IDS),
          intIn(0, 2000),
          intIn(0, 2000),
          intIn(64, 2048),
          oneOf('jpeg', 'png', 'webp', 'raw', 'npy'),
          oneOf('level=0', 'mpp=0.5', 'mpp=1.3', 'level=1'),
        )
        .map(([id, x, y, w, f, res]): Sent =>
          get(`/slides/${id}/region?x=${x}&y=${y}&width=${w}&height=${w}&format=${f}&${res}`),
        ),
      fc
        .tuple(fc.constantFrom(...READABLE_IDS), intIn(16, 2048), oneOf('jpeg', 'png', 'webp'))
        .map(([id, m, f]): Sent => get(`/slides/${id}/thumbnail.${f}?maxSize=${m}`, IMAGE_OK)),
      fc
        .tuple(intIn(1, 12), oneOf('32', '256', '1024', '2048'), oneOf('jpeg', 'png'))
        .map(([count, size, format]): Sent => ({
          method: 'POST',
          path: '/batches',
          headers: { 'content-type': 'application/json' },
          body: `{"classes":["adipose"],"minFraction":0,"count":${count},"size":${size},"format":"${format}"}`,
          ok: /^application\/x-tar(;|$)/,
          deadlineMs: 30_000,
        })),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(one, { minLength: 2, maxLength: 6 }), async (batch) => {
        await Promise.all(batch.map((r) => check('tight limits', tight, { ...r, tight: true })));
      }),
      { seed: SEED, numRuns: 60 },
    );
  });

  it('clients that go away mid-batch: the process stays up and the renders stop', async () => {
    const server = createServer(app).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const { port } = server.address() as AddressInfo;
    try {
      const abortAfter = (bytes: number, body: string) =>
        new Promise<number>((resolve) => {
          let got = 0;
          const req = httpRequest(
            {
              host: '127.0.0.1',
              port,
              path: '/batches',
              method: 'POST',
              headers: { 'content-type': 'application/json' },
            },
            (res) => {
              res.on('data', (c: Buffer) => {
                got += c.length;
                if (got >= bytes) req.destroy();
              });
              res.on('end', () => resolve(got));
              res.on('close', () => resolve(got));
            },
          );
          req.on('error', () => resolve(got));
          req.end(body);
        });
      const cases = fc.tuple(
        fc.integer({ min: 1, max: 200_000 }),
        fc.integer({ min: 8, max: 40 }),
        oneOf('64', '256', '512'),
      );
      await fc.assert(
        fc.asyncProperty(cases, async ([bytes, count, size]) => {
          await abortAfter(bytes, `{"classes":["adipose","fold"],"minFraction":0,"count":${count},"size":${size}}`);
        }),
        { seed: SEED, numRuns: 30 },
      );
      await new Promise((r) => setTimeout(r, 1_000));
      expect(crashes).toEqual([]);
      expect(app.services.limiter.stats()).toEqual({ running: 0, queued: 0 });
      const after = await hit(app, {
        method: 'POST',
        path: '/batches',
        headers: { 'content-type': 'application/json' },
        body: '{"classes":["adipose"],"count":3,"size":32}',
        deadlineMs: 30_000,
      });
      expect(after.status).toBe(200);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it('/admin/ingest: GET and POST with junk', async () => {
    const ingest = fc.tuple(
      oneOf<Method>('GET', 'POST'),
      query({ x: hostileText }),
      fc.option(fc.string({ maxLength: 200 })),
    );
    await run(
      '/admin/ingest',
      ingest,
      ([method, q, body]) => ({
        method,
        path: `/admin/ingest${q}`,
        ...(body !== null && method === 'POST' ? { body, headers: { 'content-type': 'application/json' } } : {}),
        ok: JSON_OK,
      }),
      30,
    );
  });

  it('unknown paths and methods, and known paths with the wrong method', async () => {
    const known = [
      '/slides',
      '/slides/tumor_083',
      '/slides/tumor_083/thumbnail.jpeg',
      '/slides/tumor_083/image.dzi',
      '/slides/tumor_083/image_files/12/0_0.jpeg',
      '/slides/tumor_083/mask.dzi',
      '/slides/tumor_083/mask_files/12/0_0.png',
      '/slides/tumor_083/region?x=0&y=0&width=8&height=8',
      '/samples',
      '/batches',
      '/classes',
      '/dataset',
      '/healthz',
      '/readyz',
      '/metrics',
      '/admin/ingest',
      '/openapi.yaml',
      '/docs',
      '/',
    ];
    const path = fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom(...known) },
      { weight: 3, arbitrary: fc.array(segment, { minLength: 1, maxLength: 5 }).map((s) => `/${s.join('/')}`) },
      { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...known), segment).map(([k, s]) => `${k.split('?')[0]}/${s}`) },
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          '//',
          '///etc/passwd',
          '//example.com/%2e%2e',
          '/%2e%2e/%2e%2e/etc/passwd',
          '/..%2f..%2fetc%2fpasswd',
          '/slides/..',
          '/slides/%2e%2e/',
          '/docs/assets/..%2f..%2f..%2fpackage.json',
          '/docs/assets/%2e%2e/%2e%2e/openapi.yaml',
          '/docs/assets',
          '/docs/assets/',
          '/docs/assets/swagger-ui.css',
          '/%00',
          '/slides%00',
          '/SLIDES',
          '/slides/',
          '/healthz/',
          '/healthz%2f',
          `/${'a'.repeat(8000)}`,
          '/view/tumor_083',
          '/view/..%2f..%2f',
          '/view/%00',
          '/index.sqlite',
          '/manifest.json',
          '/.env',
          '/.git/config',
          '/node_modules/express/package.json',
          '/src/app.ts',
          '/dist/server.js',
        ),
      },
    );
    const method = fc.oneof(
      { weight: 3, arbitrary: oneOf<Method>('GET') },
      { weight: 1, arbitrary: oneOf<Method>('HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS') },
    );
    const sent = fc.tuple(method, path, fc.option(fc.json({ maxDepth: 2 }), { freq: 3 }));
    await run(
      'unknown',
      sent,
      ([m, p, body]) => ({
        method: m,
        path: p,
        ...(body !== null && m !== 'GET' && m !== 'HEAD'
          ? { body, headers: { 'content-type': 'application/json' } }
          : {}),
        deadlineMs: p.startsWith('/batches') ? 30_000 : ANSWER_BOUND_MS,
      }),
      300,
    );
  });

  it('afterwards the service still answers, and its memory is back near the start', async () => {
    const health = await hit(app, { method: 'GET', path: '/healthz' });
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body.toString('utf8')).index.ready).toBe(true);
    const ready = await hit(app, { method: 'GET', path: '/readyz' });
    expect(ready.status).toBe(200);
    const tile = await hit(app, { method: 'GET', path: '/slides/tumor_083/image_files/11/0_0.jpeg' });
    expect(tile.status).toBe(200);
    await new Promise((r) => setTimeout(r, 500));
    const after = memoryNow(gc);
    const growth = {
      rss: (after.rss - baseline.rss) / MB,
      heapUsed: (after.heapUsed - baseline.heapUsed) / MB,
      external: (after.external - baseline.external) / MB,
    };
    console.log(
      `memory after the fuzz vs before: rss ${(after.rss / MB).toFixed(0)} MB (${growth.rss >= 0 ? '+' : ''}${growth.rss.toFixed(1)}), heapUsed ${(after.heapUsed / MB).toFixed(0)} MB (${growth.heapUsed >= 0 ? '+' : ''}${growth.heapUsed.toFixed(1)}), external ${(after.external / MB).toFixed(0)} MB (${growth.external >= 0 ? '+' : ''}${growth.external.toFixed(1)})`,
    );
    // The tile, label and thumbnail caches are bounded (about 180 MB together at these settings):
    // growth above that would be a leak, not a cache filling up.
    expect(growth.rss).toBeLessThan(200);
    expect(growth.heapUsed).toBeLessThan(100);
    expect(crashes, 'uncaught exceptions or unhandled rejections during the fuzz').toEqual([]);
    const unexpected = served.errors.filter((l) => /unexpected error/.test(l));
    expect(unexpected.length, `the service logged unexpected errors, the first: ${unexpected[0]?.slice(0, 1500)}`).toBe(
      0,
    );
  });
});

/** Bugs the hostile-input properties found, one regression test each (they failed before their fixes). */
describe('regressions found by the hostile-input properties', () => {
  it('a 64 x 64 region at mpp=1000 reads a bounded source rectangle (was ~1e9 pixels, 3.2 GB, 422 ENCODE_FAILED)', async () => {
    const before = memoryNow(gc).rss;
    const a = await hit(app, {
      method: 'GET',
      path: '/slides/tumor_083/region?x=0&y=0&width=64&height=64&mpp=1000',
      deadlineMs: 120_000,
    });
    const peak = process.memoryUsage().rss;
    expect(a.ms).toBeLessThan(ANSWER_BOUND_MS);
    expect((peak - before) / MB).toBeLessThan(200);
    expect([200, 413, 422]).toContain(a.status);
  });

  it('a 2048 x 2048 region at mpp=1000 is not reported as a damaged slide (was 503 SLIDE_UNAVAILABLE from a RangeError)', async () => {
    const a = await hit(app, {
      method: 'GET',
      path: '/slides/tumor_083/region?x=0&y=0&width=2048&height=2048&mpp=1000',
      deadlineMs: 120_000,
    });
    expect(a.status).not.toBe(503);
    expect(a.status).toBeLessThan(500);
  });

  it('POST /samples for 100,000 patches inside a 99,999-vertex polygon reaches the sampler: 200 or 503 TIMEOUT within 5 s (was 18-45 s with the loop blocked, then a 413 by the sample cap)', async () => {
    // The sample cap raised, so the request is not refused before sampling; a 4 s budget keeps the answer within the bound.
    const big = await served.app({
      ...SMALL_CACHES,
      maxBodyBytes: 16 * MB,
      maxSamples: 100_000,
      requestTimeoutMs: 4_000,
    });
    const ring = ringOf(99_999);
    const body = toJson({
      classes: ['adipose'],
      count: 100_000,
      minFraction: 0,
      region: { polygon: { type: 'Polygon', coordinates: [ring] } },
    });
    const a = await hit(big, {
      method: 'POST',
      path: '/samples',
      headers: { 'content-type': 'application/json' },
      body,
      deadlineMs: 120_000,
    });
    expect(a.ms).toBeLessThan(ANSWER_BOUND_MS);
    const answer = JSON.parse(a.body.toString('utf8')) as {
      code?: string;
      items?: Array<{ x: number; y: number; sizeL0: number }>;
    };
    console.log(
      `100,000 patches in a 99,999-vertex polygon: ${a.status} ${answer.code ?? `${answer.items?.length} items`} in ${Math.round(a.ms)} ms`,
    );
    if (a.status === 503) {
      expect(answer.code).toBe('TIMEOUT');
      return;
    }
    expect(a.status).toBe(200);
    expect(answer.items).toHaveLength(100_000);
    expectCentresInside(answer.items!, [ring]);
  }, 180_000);

  it('POST /samples inside a 99,990-vertex comb answers 200 with patches inside it, the event loop never stalled (was 48 s blocked, 4.3 GB)', async () => {
    // The service's default body limit: the report's 1.3 MB body fits it.
    const big = await served.app({ ...SMALL_CACHES, maxBodyBytes: DEFAULT_BODY_LIMIT });
    const ring = INTEGER_COMB;
    const body = toJson({
      classes: ['adipose'],
      count: 2_000,
      size: 32,
      minFraction: 0,
      region: { polygon: { type: 'Polygon', coordinates: [ring] } },
    });
    const rssBefore = process.memoryUsage().rss;
    let a!: Answer;
    const stallMs = await leastStall(async () => {
      const health = hit(big, { method: 'GET', path: '/healthz' });
      a = await hit(big, {
        method: 'POST',
        path: '/samples',
        headers: { 'content-type': 'application/json' },
        body,
        deadlineMs: 120_000,
      });
      expect((await health).status).toBe(200);
    });
    console.log(
      `99,990-vertex comb: ${a.status} in ${Math.round(a.ms)} ms; worst event-loop stall ${stallMs.toFixed(0)} ms`,
    );
    expect(a.status).toBe(200);
    const items = (JSON.parse(a.body.toString('utf8')) as { items: Array<{ x: number; y: number; sizeL0: number }> })
      .items;
    expect(items).toHaveLength(2_000);
    expectCentresInside(items, [ring]);
    expect(stallMs, `the event loop stalled ${stallMs.toFixed(0)} ms`).toBeLessThan(STALL_BOUND_MS);
    expect((process.memoryUsage().rss - rssBefore) / MB).toBeLessThan(500);
  }, 180_000);
});

/**
 * The worst event-loop stall while `send` runs, the least of up to three runs when it passes the
 * bound: work that blocks the loop (as the old polygon tester did, 48 s) blocks it every time,
 * while a GC pause or the OS preempting this process on a busy machine does not repeat alike.
 */
async function leastStall(send: () => Promise<unknown>): Promise<number> {
  let least = Infinity;
  for (let attempt = 0; attempt < 3 && least >= STALL_BOUND_MS; attempt++) {
    const watch = watchEventLoop();
    await send();
    least = Math.min(least, watch.stop().stallMs);
  }
  return least;
}

/** Every patch centre (level-0) lies inside the rings by the even-odd rule (plain pnpoly over all edges). */
function expectCentresInside(items: Array<{ x: number; y: number; sizeL0: number }>, rings: number[][][]): void {
  const flat = rings.map((r) => Float64Array.from(r.flat()));
  const outside = items.filter(
    (it) => flat.reduce((n, r) => n + ringCrossings(r, it.x + it.sizeL0 / 2, it.y + it.sizeL0 / 2), 0) % 2 === 0,
  );
  expect(outside.slice(0, 3)).toEqual([]);
}
