/**
 * The typed TypeScript client (clients/typescript) against the real app on a loopback port:
 * catalogue calls, sampling, a typed problem document, and example.ts run as a program.
 * Type-level checks (what must and must not compile) run under `npx tsc -p tsconfig.test.json`.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { runProcess } from '../../dev/procs.js';
import {
  batchMembers,
  classIndex,
  classNames,
  createSlidesClient,
  near,
  type SampleRequest,
  type SampleScale,
  type ScaleRequest,
  ok,
  ProblemError,
  type Problem,
  type SlidesClient,
} from '../../clients/typescript/client.js';
import { serveCore, type Served } from '../support/app-fixture.js';
import { untar } from '../support/tar.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const EXAMPLE = join(ROOT, 'clients', 'typescript', 'example.ts');

let served: Served;
let server: Server;
let url: string;
let api: SlidesClient;
let tmp: string;

beforeAll(async () => {
  served = await serveCore();
  server = createServer(served.app);
  await new Promise<void>((res, rej) => server.once('error', rej).listen(0, '127.0.0.1', res));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  api = createSlidesClient(url);
  tmp = mkdtempSync(join(tmpdir(), 'ts-client-'));
});

afterAll(async () => {
  server?.closeAllConnections();
  await new Promise<void>((res) => (server ? server.close(() => res()) : res()));
  served?.cleanup();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('typed client', () => {
  it('GET /slides: a typed page of slides', async () => {
    const { data, error, response } = await api.GET('/slides', { params: { query: { limit: 100 } } });
    expect(response.status).toBe(200);
    expect(error).toBeUndefined();
    expectTypeOf(data!.items[0]!.width).toEqualTypeOf<number>();
    const ids = data!.items.map((s) => s.id);
    expect(ids).toContain('tumor_083');
    expect(data!.total).toBe(ids.length);
    const filtered = ok(await api.GET('/slides', { params: { query: { class: ['metastasis'] } } }));
    expect(filtered.items.map((s) => s.id).sort()).toEqual(['tumor_083', 'tumor_107']);
  });

  it('GET /slides/{slideId}: the slide with its pyramid and labelled classes', async () => {
    const slide = ok(await api.GET('/slides/{slideId}', { params: { path: { slideId: 'tumor_083' } } }));
    expect([slide.width, slide.height]).toEqual([3000, 2400]);
    expect(slide.levels[0]).toMatchObject({ width: 3000, height: 2400, downsample: 1 });
    expect(slide.classes.map((c) => c.name)).toContain('metastasis');
    expect(slide.labels?.sources.map((s) => s.id)).toEqual(['context', 'lesions', 'artefacts', 'paint']);
  });

  it('a 404 is a typed problem document, and ok() turns it into a ProblemError', async () => {
    const r = await api.GET('/slides/{slideId}', { params: { path: { slideId: 'nope' } } });
    expectTypeOf<NonNullable<typeof r.error>>().toEqualTypeOf<Problem>();
    expect(r.data).toBeUndefined();
    expect(r.response.status).toBe(404);
    expect(r.response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(r.error).toMatchObject({ status: 404, code: 'SLIDE_NOT_FOUND', title: 'Not Found' });
    expect(r.error?.detail).toContain('nope');
    const thrown = await api
      .GET('/slides/{slideId}', { params: { path: { slideId: 'nope' } } })
      .then(ok, (e: unknown) => e)
      .catch((e: unknown) => e);
    expect(thrown).toBeInstanceOf(ProblemError);
    expect((thrown as ProblemError).problem.code).toBe('SLIDE_NOT_FOUND');
  });

  it('POST /samples: 8 metastasis patches, the same ones for the same seed, defaults left out', async () => {
    const body = { classes: ['metastasis'], count: 8, seed: 7, size: 128 };
    const first = ok(await api.POST('/samples', { body }));
    expect(first.items).toHaveLength(8);
    for (const p of first.items) {
      expect(p.class).toBe('metastasis');
      expect(p.fractions.metastasis).toBeGreaterThanOrEqual(0.5); // the default minFraction
      expect([p.width, p.height]).toEqual([128, 128]);
    }
    expect(ok(await api.POST('/samples', { body })).items).toEqual(first.items);
    const unknown = await api.POST('/samples', { body: { classes: ['no-such-class'] } });
    expect(unknown.response.status).toBeGreaterThanOrEqual(400);
    expect(unknown.error?.code).toMatch(/^[A-Z_]+$/);
  });

  it('classIndex and classNames: a model target per descriptor, in the order the classes were asked', async () => {
    const list = ok(
      await api.POST('/samples', { body: { classes: ['adipose', 'metastasis'], size: 32, count: 10, seed: 3 } }),
    );
    expect(classNames(list)).toEqual(['adipose', 'metastasis']);
    for (const item of list.items) expect(classNames(list)[classIndex(item)]).toBe(item.class);
    expect(new Set(list.items.map(classIndex))).toEqual(new Set([0, 1]));
  });

  it('near(): region.near passed through, typed distances back, bad bands refused before sending', async () => {
    const body: SampleRequest = {
      classes: ['adipose', 'connective-tissue'],
      size: 32,
      count: 12,
      seed: 4,
      minFraction: 0.3,
      region: { near: near(['metastasis'], 900, 5) },
    };
    const list = ok(await api.POST('/samples', { body }));
    expect(list.items).toHaveLength(12);
    expectTypeOf(list.items[0]!.distanceUm).toEqualTypeOf<number | undefined>();
    for (const item of list.items) {
      expect(item.distanceUm).toBeGreaterThanOrEqual(5);
      expect(item.distanceUm).toBeLessThanOrEqual(900);
      expect(item.distanceErrorUm).toBeGreaterThan(0);
    }
    expect(() => near(['metastasis'], 10, 20)).toThrow(/withinUm \(10\) must be at least outsideUm \(20\)/);
    expect(() => near(['metastasis'], -1)).toThrow(/withinUm must be a finite number >= 0/);
    expect(() => near(['metastasis'], Infinity)).toThrow(/withinUm/);
    expect(() => near([], 10)).toThrow(/classes/);
    // The service says the same when the band is sent by hand.
    const bad = await api.POST('/samples', {
      body: { classes: ['adipose'], region: { near: { classes: ['metastasis'], withinUm: 10, outsideUm: 20 } } },
    });
    expect(bad.error).toMatchObject({ status: 400, code: 'VALIDATION_FAILED' });
    expect(bad.error?.detail).toContain('region.near.withinUm');
  });

  it('sends the API key as a bearer token', async () => {
    let seen: string | null = null;
    const keyed = createSlidesClient(`${url}/`, {
      apiKey: 'k-123',
      fetch: (req) => ((seen = req.headers.get('authorization')), fetch(req)),
    });
    ok(await keyed.GET('/healthz'));
    expect(seen).toBe('Bearer k-123');
  });

  it('the generated SampleRequest type leaves every property with a default optional', () => {
    // Compile-time: a body with only the required property is a SampleRequest (gen:types runs with --default-non-nullable false).
    const minimal: SampleRequest = { classes: ['adipose'] };
    expect(minimal).toEqual({ classes: ['adipose'] });
  });
});

describe('typed client, several scales', () => {
  it('several scales: typed per-scale descriptors, and the batch members batchMembers names', async () => {
    const scales: ScaleRequest[] = [
      { level: 0, size: 64 },
      { level: 1, size: 32 },
    ];
    const body: SampleRequest = { classes: ['metastasis'], scales, count: 3, seed: 2, format: 'png' };
    const list = ok(await api.POST('/samples', { body }));
    for (const item of list.items) {
      expectTypeOf(item.scales!).toEqualTypeOf<SampleScale[]>();
      expect(item.scales!.map((k) => [k.width, k.level, k.sizeL0])).toEqual([
        [64, 0, 64],
        [32, 1, 64],
      ]);
      expect(item.scales![0]!.imageUrl).toBe(item.imageUrl);
    }
    const tar = ok(await api.POST('/batches', { body, parseAs: 'arrayBuffer' }));
    const entries = await untar(Buffer.from(tar));
    const names = list.items.flatMap((item) => {
      const m = batchMembers(item, 'png');
      return [...m.images.flatMap((img, k) => [img, m.masks[k]!]), m.json];
    });
    expect([...entries.keys()]).toEqual(names);
    expect(names.slice(0, 5)).toEqual([
      '000000.img.0.png',
      '000000.mask.0.png',
      '000000.img.1.png',
      '000000.mask.1.png',
      '000000.json',
    ]);
    expect(batchMembers({ index: 7 }, 'npy')).toEqual({
      images: ['000007.npy'],
      masks: ['000007.mask.npy'],
      json: '000007.json',
    });
    const bad = await api.POST('/samples', { body: { classes: ['metastasis'], scales: [...scales, { size: 64 }] } });
    expect(bad.error).toMatchObject({
      status: 400,
      code: 'VALIDATION_FAILED',
      detail: 'body.scales[2] needs level or mpp',
    });
  });
});

describe('example.ts', () => {
  it('lists slides, samples 8 metastasis patches and saves a batch tar, exit code 0', async () => {
    const out = join(tmp, 'batch.tar');
    // Asynchronous on purpose: the service answering the example runs in this very process.
    const args = ['--import', 'tsx', EXAMPLE, url, out];
    const { code, output } = await runProcess('example.ts', process.execPath, args, { cwd: ROOT, timeoutMs: 50_000 });
    expect(code, output).toBe(0);
    expect(output).toMatch(/^slides: \d+ of \d+$/m);
    expect(output).toContain('tumor_083');
    expect(output).toMatch(/^samples: 8 metastasis patches/m);
    // Per sample: the image, its mask and its descriptor.
    expect(output).toMatch(/^batch: 24 tar entries for 8 samples -> /m);
    expect(existsSync(out) && statSync(out).size % 512).toBe(0);
    expect(readFileSync(out).subarray(257, 262).toString()).toBe('ustar');
  }, 60_000);
});

/** Never called: what the compiler must accept and refuse (checked by `npx tsc -p tsconfig.test.json`). */
export function typeChecks(c: SlidesClient): void {
  void c.POST('/samples', { body: { classes: ['metastasis'] } });
  void c.POST('/batches', {
    body: { classes: [1, 'artefact'], region: { within: ['labelled'] }, exclude: { categories: ['artefact'] } },
  });
  // @ts-expect-error the slide id is a required path parameter
  void c.GET('/slides/{slideId}', {});
  // @ts-expect-error no such path in the contract
  void c.GET('/slide');
  // @ts-expect-error classes is required
  void c.POST('/samples', { body: { count: 8 } });
  // @ts-expect-error balance is an enum
  void c.POST('/samples', { body: { classes: ['metastasis'], balance: 'everything' } });
  // @ts-expect-error a scale needs its size
  void c.POST('/samples', { body: { classes: ['metastasis'], scales: [{ mpp: 1 }] } });
  // @ts-expect-error a scale's mpp is a number
  void c.POST('/batches', { body: { classes: ['metastasis'], scales: [{ mpp: '1', size: 64 }] } });
  // @ts-expect-error limit is a number
  void c.GET('/slides', { params: { query: { limit: '10' } } });
}
