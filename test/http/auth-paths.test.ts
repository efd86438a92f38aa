/**
 * Routing and access checks agree: every protected route, in every spelling a client or proxy
 * might send (case, doubled and trailing slashes, percent-encoded slashes, letters and dot
 * segments, HEAD, OPTIONS), with no key, a wrong, a revoked, a data and an admin key. A spelling
 * either is the route (and passed its check) or reaches no handler at all.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.js';
import { hashKey } from '../../src/auth/keys.js';
import { loadConfig } from '../../src/config.js';
import { createIndexHandle } from '../../src/db/handle.js';
import { createGeneration } from '../../src/generation.js';
import { ROUTER_OPTIONS } from '../../src/http/router.js';
import { imagingCapabilities } from '../../src/imaging/sharp.js';
import { ingest, type IngestReport } from '../../src/indexer/ingest.js';
import { buildDataset } from '../support/core-dataset.js';

const KEYS = { none: null, wrong: 'not-a-key', revoked: 'old-key', data: 'data-key', admin: 'admin-key' } as const;
type Who = keyof typeof KEYS;
const WHO = Object.keys(KEYS) as Who[];
/** A wrong key meets the same check as a missing one: the spelling matrices use the other four. */
const WHO4 = WHO.filter((w) => w !== 'wrong');

interface Route {
  method: 'GET' | 'POST';
  path: string;
  query?: string;
  body?: object;
  /** Status of the handler when reached. */
  ok: number;
  access: 'open' | 'data' | 'admin';
  /** Case changes in later literal segments (changes in parameters name another resource). */
  cased?: string[];
}

const SAMPLE = { classes: ['adipose'], minFraction: 0, count: 1, size: 32 };
const ROUTES: Route[] = [
  { method: 'POST', path: '/admin/ingest', ok: 202, access: 'admin', cased: ['/admin/Ingest', '/admin/INGEST'] },
  { method: 'GET', path: '/admin/ingest', ok: 200, access: 'admin', cased: ['/admin/Ingest', '/admin/INGEST'] },
  { method: 'GET', path: '/slides', ok: 200, access: 'data' },
  { method: 'GET', path: '/slides/tumor_083', ok: 200, access: 'data' },
  {
    method: 'GET',
    path: '/slides/tumor_083/thumbnail.png',
    query: 'maxSize=16',
    ok: 200,
    access: 'data',
    cased: ['/slides/tumor_083/thumbnail.PNG'],
  },
  { method: 'GET', path: '/classes', ok: 200, access: 'data' },
  { method: 'GET', path: '/dataset', ok: 200, access: 'data' },
  {
    method: 'GET',
    path: '/slides/tumor_083/image.dzi',
    ok: 200,
    access: 'data',
    cased: ['/slides/tumor_083/IMAGE.dzi'],
  },
  { method: 'GET', path: '/slides/tumor_083/image_files/11/0_0.jpeg', ok: 200, access: 'data' },
  {
    method: 'GET',
    path: '/slides/tumor_083/mask_files/11/0_0.png',
    ok: 200,
    access: 'data',
    cased: ['/slides/tumor_083/MASK_FILES/11/0_0.png'],
  },
  {
    method: 'GET',
    path: '/slides/tumor_083/region',
    query: 'x=0&y=0&width=16&height=16',
    ok: 200,
    access: 'data',
    cased: ['/slides/tumor_083/Region'],
  },
  { method: 'POST', path: '/samples', body: SAMPLE, ok: 200, access: 'data' },
  { method: 'POST', path: '/batches', body: SAMPLE, ok: 200, access: 'data' },
  { method: 'GET', path: '/', ok: 200, access: 'data' },
  { method: 'GET', path: '/view/tumor_083', ok: 200, access: 'data' },
  {
    method: 'GET',
    path: '/viewer/assets/viewer.css',
    ok: 200,
    access: 'data',
    cased: ['/viewer/Assets/viewer.css', '/viewer/assets/VIEWER.CSS'],
  },
  // Open routes: their canonical spelling needs no key, and no other spelling is open.
  { method: 'GET', path: '/healthz', ok: 200, access: 'open' },
  { method: 'GET', path: '/readyz', ok: 200, access: 'open' },
  { method: 'GET', path: '/metrics', ok: 200, access: 'open' },
  { method: 'GET', path: '/openapi.yaml', ok: 200, access: 'open' },
  { method: 'GET', path: '/docs', ok: 200, access: 'open' },
  { method: 'GET', path: '/login', ok: 200, access: 'open' },
];

/**
 * Other spellings of a path that clients, proxies or attackers send; none is the route. Each
 * changes the first segment, which is a literal in every route, or the path's structure.
 */
function spellings(path: string): string[] {
  const segs = path.split('/').slice(1);
  const first = segs[0] ?? '';
  const rest = segs.slice(1).join('/');
  const tail = rest ? `/${rest}` : '';
  const hex = (c: string) => `%${c.charCodeAt(0).toString(16)}`;
  const all = [
    path.toUpperCase(),
    `/${first.charAt(0).toUpperCase()}${first.slice(1)}${tail}`,
    `/${path}`,
    rest ? `/${first}//${rest}` : `${path}/`,
    `${path}/`,
    rest ? `/${first}%2F${rest}` : `/%2F${first}`,
    rest ? `/${first}%2f${rest}` : `/%2f${first}`,
    first ? `/${hex(first.charAt(0))}${first.slice(1)}${tail}` : '/%2F',
    `/${first}/%2e%2e${path}`,
    `/${first}/%2E%2E${path}`,
    `/${first}/..${path}`,
    `/%2e${path}`,
  ];
  return [...new Set(all)].filter((p) => p !== path);
}

let dir: string;
let server: Server;
let ingests = 0;
const seen: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'auth-paths-'));
  const dataDir = join(dir, 'data');
  const indexPath = join(dir, 'index.sqlite');
  await buildDataset(dataDir, { real: false });
  await ingest({ dataDir, indexPath });
  const config = loadConfig(
    {},
    {
      dataDir,
      indexPath,
      slideHandles: 4,
      tileCacheBytes: 1 << 20,
      labelCacheBytes: 8 << 20,
      apiKeys: [hashKey(KEYS.data), hashKey(KEYS.revoked)],
      adminApiKeys: [hashKey(KEYS.admin)],
      revokedApiKeys: [hashKey(KEYS.revoked)],
    },
  );
  const index = createIndexHandle(indexPath, (db) => createGeneration(db, dataDir, config.labelCacheBytes));
  const fakeIngest = async (): Promise<IngestReport> => {
    ingests++;
    return { published: false, datasetVersion: 'v', indexed: [], unchanged: [], removed: [], problems: [], ms: 1 };
  };
  const imaging = await imagingCapabilities();
  const app = createApp({ config, index, log: pino({ level: 'silent' }), imaging, ingest: fakeIngest });
  // Records the request line as the server received it: the spelling under test, not a normalised one.
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    seen.push(`${req.method} ${req.url}`);
    app(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
}, 120_000);

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

async function send(method: string, url: string, who: Who, body?: object) {
  const r = request(server)[method.toLowerCase() as 'get' | 'post' | 'head' | 'options'](url);
  const key = KEYS[who];
  if (key !== null) r.set('Authorization', `Bearer ${key}`);
  const res = await (body ? r.send(body) : r);
  expect(seen.at(-1), 'the spelling reached the server as sent').toBe(`${method} ${url}`);
  return res;
}

/** What the route answers when spelt as in the contract. */
function expected(route: Route, who: Who): { status: number; code?: string } {
  if (route.access === 'open') return { status: route.ok };
  if (who === 'none' || who === 'wrong') return { status: 401, code: 'UNAUTHORIZED' };
  if (who === 'revoked') return { status: 403, code: 'KEY_REVOKED' };
  if (route.access === 'admin' && who === 'data') return { status: 403, code: 'FORBIDDEN' };
  return { status: route.ok };
}

/** What any other spelling answers: the key check, then no route. */
function expectedElsewhere(who: Who): { status: number; code: string } {
  if (who === 'none' || who === 'wrong') return { status: 401, code: 'UNAUTHORIZED' };
  if (who === 'revoked') return { status: 403, code: 'KEY_REVOKED' };
  return { status: 404, code: 'ROUTE_NOT_FOUND' };
}

type Want = { status: number; code?: string };

function checkAnswer(res: request.Response, want: Want, cell: string, head: boolean): void {
  expect([cell, res.status]).toEqual([cell, want.status]);
  if (res.status < 400) return;
  expect([cell, res.headers['content-type']]).toEqual([cell, expect.stringMatching(/^application\/problem\+json/)]);
  if (!head) expect([cell, res.body.code]).toEqual([cell, want.code]);
}

describe('every protected route, in every spelling, with every key', () => {
  it('spellings() makes the variants the issue names', () => {
    expect(spellings('/admin/ingest')).toEqual(
      expect.arrayContaining([
        '/ADMIN/INGEST',
        '/Admin/ingest',
        '//admin/ingest',
        '/admin//ingest',
        '/admin/ingest/',
        '/admin%2Fingest',
        '/%61dmin/ingest',
        '/admin/%2e%2e/admin/ingest',
        '/admin/../admin/ingest',
      ]),
    );
    expect(spellings('/')).toEqual(expect.arrayContaining(['//', '/%2F']));
  });

  it('the contract spelling passes exactly its own check', async () => {
    const before = ingests;
    let adminPosts = 0;
    for (const route of ROUTES) {
      const url = route.query ? `${route.path}?${route.query}` : route.path;
      for (const who of WHO) {
        const cell = `${who} ${route.method} ${url}`;
        const res = await send(route.method, url, who, route.body);
        checkAnswer(res, expected(route, who), cell, false);
        if (route.method === 'POST' && route.access === 'admin' && res.status === 202) adminPosts++;
        if (route.access === 'admin' && res.status < 400) expect(res.body.state, cell).toMatch(/^(idle|running|done)$/);
        if (route.method === 'GET') {
          const head = await send('HEAD', url, who);
          checkAnswer(head, expected(route, who), `HEAD ${cell}`, true);
          expect(head.text ?? '', `HEAD ${cell}`).toBe('');
        }
      }
    }
    expect(adminPosts).toBe(1);
    expect(ingests - before, 'the ingest ran for the admin key only').toBe(1);
  }, 120_000);

  it('no other spelling reaches a handler: the key check, then 404 for every key', async () => {
    const before = ingests;
    let cells = 0;
    for (const route of ROUTES) {
      for (const spelt of [...spellings(route.path), ...(route.cased ?? [])]) {
        const url = route.query ? `${spelt}?${route.query}` : spelt;
        for (const who of WHO4) {
          const cell = `${who} ${route.method} ${url}`;
          const want = expectedElsewhere(who);
          checkAnswer(await send(route.method, url, who, route.body), want, cell, false);
          if (route.method === 'GET') checkAnswer(await send('HEAD', url, who), want, `HEAD ${cell}`, true);
          cells++;
        }
      }
    }
    expect(ingests, 'no spelling but /admin/ingest started an ingest').toBe(before);
    expect(cells).toBeGreaterThan(ROUTES.length * 10 * WHO4.length);
  }, 300_000);

  it('OPTIONS (CORS preflight) answers 204 without a body and reaches no handler, in any spelling', async () => {
    const before = ingests;
    for (const route of ROUTES) {
      for (const spelt of [route.path, ...spellings(route.path), ...(route.cased ?? [])]) {
        for (const who of WHO4) {
          const res = await send('OPTIONS', spelt, who);
          expect([who, spelt, res.status, res.text ?? '']).toEqual([who, spelt, 204, '']);
          expect(res.headers['access-control-allow-methods']).toBe('GET, HEAD, POST, OPTIONS');
        }
      }
    }
    expect(ingests).toBe(before);
  }, 120_000);
});

describe('the routers themselves', () => {
  it('the app and every router mounted in it match case-sensitively and strictly', async () => {
    expect(ROUTER_OPTIONS).toEqual({ caseSensitive: true, strict: true });
    const config = loadConfig({}, { dataDir: dir, indexPath: join(dir, 'none.sqlite') });
    const index = createIndexHandle(join(dir, 'none.sqlite'), (db) => createGeneration(db, dir, 1 << 20));
    const built = createApp({ config, index, log: pino({ level: 'silent' }), imaging: await imagingCapabilities() });
    type RouterLike = { caseSensitive?: boolean; strict?: boolean; stack: Array<{ handle: unknown }> };
    const root = (built as unknown as { router: RouterLike }).router;
    expect([root.caseSensitive, root.strict]).toEqual([true, true]);
    const isRouter = (h: unknown): h is RouterLike =>
      typeof h === 'function' && Array.isArray((h as Partial<RouterLike>).stack);
    const routers = root.stack.map((l) => l.handle).filter(isRouter);
    expect(routers.length).toBeGreaterThanOrEqual(7);
    for (const r of routers) expect([r.caseSensitive, r.strict]).toEqual([true, true]);
  });
});

describe('the key as sent', () => {
  it('the Bearer scheme is case-insensitive (RFC 9110 11.1); the key itself is not', async () => {
    for (const scheme of ['Bearer', 'bearer', 'BEARER', 'bEaReR']) {
      const res = await request(server).get('/classes').set('Authorization', `${scheme} ${KEYS.data}`);
      expect([scheme, res.status]).toEqual([scheme, 200]);
    }
    const upper = await request(server).get('/classes').set('Authorization', `Bearer ${KEYS.data.toUpperCase()}`);
    expect(upper.status).toBe(401);
    const admin = await request(server).post('/admin/ingest').set('Authorization', `bearer ${KEYS.data}`);
    expect(admin.status).toBe(403);
  });

  it('a malformed percent-encoding in the key cookie is no key (401), not a bad URL path', async () => {
    for (const cookie of ['slides_key=%E0%A4%A', 'slides_key=%', 'slides_key=%zz']) {
      const res = await request(server).get('/classes').set('Cookie', cookie);
      expect([cookie, res.status, res.body.code]).toEqual([cookie, 401, 'UNAUTHORIZED']);
    }
    const ok = await request(server)
      .get('/classes')
      .set('Cookie', `slides_key=${encodeURIComponent(KEYS.data)}`);
    expect(ok.status).toBe(200);
    // Cookie names are case-sensitive (RFC 6265 5.2): another name is no key.
    expect((await request(server).get('/classes').set('Cookie', `SLIDES_KEY=${KEYS.data}`)).status).toBe(401);
  });
});
