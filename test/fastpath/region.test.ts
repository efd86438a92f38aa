/**
 * The hot path of GET /slides/{id}/region (src/fastpath/) against the express chain it stands in
 * for: two apps over the same index, one with the hot path and one without, asked the same
 * requests, answer alike (status, the headers that matter, body), count the same metrics and write
 * the same log lines. A spy on express's router says which requests the hot path answered itself,
 * so an equal answer cannot come from both apps taking the chain.
 */
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.js';
import { hashKey } from '../../src/auth/keys.js';
import { serveDemo, type Served } from '../support/app-fixture.js';
import { both, comparableLogs, counts, pair as pairOver, type Pair } from './pair.js';

let served: Served;
beforeAll(async () => {
  served = await serveDemo();
}, 120_000);
afterAll(() => served.cleanup());

const KEYS = { data: 'data-key-1', revoked: 'revoked-key-1' };

const SLIDE = '/slides/tumor_001/region';
const patch = (q: string) => `${SLIDE}?x=1000&y=800&width=128&height=128&${q}`;

const pair = (overrides: Partial<Config> = {}) => pairOver(served, overrides);

let p: Pair;
beforeAll(async () => {
  p = await pair();
});

describe('GET /slides/{id}/region: the hot path answers as the express chain does', () => {
  it('answers good requests itself, with the same status, headers and bytes', async () => {
    const before = p.routed();
    for (const q of [
      'level=0',
      'level=1',
      'mpp=0.5',
      'level=0&format=png',
      'level=0&format=raw',
      'level=0&format=npy',
    ]) {
      const r = await both(p, 'get', patch(q));
      expect(r.status).toBe(200);
      expect(r.requestId).toBe('string');
      expect(r.body.length).toBeGreaterThan(0);
    }
    for (const q of ['layer=mask', 'layer=mask&format=raw', 'level=0&quality=60&format=webp']) {
      expect((await both(p, 'get', patch(q))).status).toBe(200);
    }
    const edge = await both(p, 'get', `${SLIDE}?x=-64&y=-64&width=128&height=128`);
    expect(edge.status).toBe(200);
    expect(p.routed()).toBe(before);
  });

  it('answers 304 for a current ETag, and keeps a given X-Request-Id', async () => {
    const first = await both(p, 'get', patch('level=0'));
    const before = p.routed();
    const etag = first.headers.etag!;
    const r = await both(p, 'get', patch('level=0'), (t) => t.set('If-None-Match', `W/${etag}, "other"`));
    expect(r.status).toBe(304);
    expect(r.body.length).toBe(0);
    for (const app of [p.fast, p.chain]) {
      const id = await request(app).get(patch('level=0')).set('X-Request-Id', 'trace-42.a');
      expect(id.headers['x-request-id']).toBe('trace-42.a');
    }
    expect(p.routed()).toBe(before);
  });

  it('passes bad requests to the chain, which answers them through the one error writer', async () => {
    const before = p.routed();
    const bad: Array<[string, number, string]> = [
      [`${SLIDE}?y=1&width=8&height=8`, 400, 'INVALID_PARAMETER'],
      [patch('level=0&mpp=0.5'), 400, 'INVALID_PARAMETER'],
      [`${SLIDE}?x=1.5&y=1&width=8&height=8`, 400, 'INVALID_PARAMETER'],
      [`${SLIDE}?x=1&x=2&y=1&width=8&height=8`, 400, 'INVALID_PARAMETER'],
      [`${SLIDE}?x=0&y=0&width=8192&height=8192`, 413, 'REGION_TOO_LARGE'],
      [patch('format=gif'), 400, 'INVALID_PARAMETER'],
      ['/slides/nope_404/region?x=0&y=0&width=8&height=8', 404, 'SLIDE_NOT_FOUND'],
      [patch('layer=mask&format=jpeg'), 400, 'UNSUPPORTED_FORMAT'],
    ];
    for (const [url, status, code] of bad) {
      const r = await both(p, 'get', url);
      expect([url, r.status]).toEqual([url, status]);
      expect(r.headers['content-type']).toBe('application/problem+json; charset=utf-8');
      expect(JSON.parse(r.body.toString()).code).toBe(code);
    }
    // Each reached the chain once: passed on untouched, or (the mask in JPEG, refused only when its
    // body is made) handed over with its error.
    expect(p.routed() - before).toBe(bad.length);
  });

  it('hands errors found after the 304 check to the one error writer (off the slide, level out of range)', async () => {
    for (const [q, code] of [
      ['x=999999&y=999999&width=8&height=8&level=0', 'REGION_OFF_SLIDE'],
      ['x=0&y=0&width=8&height=8&level=31', 'LEVEL_OUT_OF_RANGE'],
    ]) {
      const r = await both(p, 'get', `${SLIDE}?${q}`);
      expect(r.status).toBe(422);
      expect(JSON.parse(r.body.toString()).code).toBe(code);
      expect(r.headers.etag).toBeDefined(); // set before the render, as the route sets it
      expect(r.headers['cache-control']).toBe('no-store');
    }
  });
});

describe('what the hot path leaves to the chain, and what both count and log', () => {
  it('leaves other methods and spellings to the chain: HEAD, OPTIONS, percent-encoding, trailing slash, case', async () => {
    const before = p.routed();
    const head = await both(p, 'head', patch('level=0'));
    expect(head.status).toBe(200);
    expect(Number(head.headers['content-length'])).toBeGreaterThan(0);
    expect((await both(p, 'options', patch('level=0'))).status).toBe(204);
    expect((await both(p, 'get', `/slides/tumor%5F001/region?x=0&y=0&width=8&height=8`)).status).toBe(200);
    expect((await both(p, 'get', `${SLIDE}/?x=0&y=0&width=8&height=8`)).status).toBe(404);
    expect((await both(p, 'get', `/Slides/tumor_001/region?x=0&y=0&width=8&height=8`)).status).toBe(404);
    expect((await both(p, 'get', `/slides/tumor_001/Region?x=0&y=0&width=8&height=8`)).status).toBe(404);
    expect(p.routed() - before).toBe(6);
  });

  it('counts the same metrics and writes the same log lines', async () => {
    const [fast, chain] = [await counts(p.fast), await counts(p.chain)];
    expect(fast.filter((l) => l.includes('route="/slides/:slideId/region"')).length).toBeGreaterThan(2);
    expect(fast).toEqual(chain);
    // The scrapes' own lines differ (their bodies are the two apps' metrics): every other line is compared.
    expect(comparableLogs(p.logs.fast).length).toBeGreaterThan(20);
    expect(comparableLogs(p.logs.fast)).toEqual(comparableLogs(p.logs.chain));
  });
});

describe('the hot path with API keys, a CORS origin and a short time budget', () => {
  it('passes a missing, wrong or revoked key to the chain; a good one gets a private answer', async () => {
    const p = await pair({
      apiKeys: [hashKey(KEYS.data), hashKey(KEYS.revoked)],
      revokedApiKeys: [hashKey(KEYS.revoked)],
      corsOrigin: 'https://viewer.example',
    });
    const url = patch('level=0');
    const missing = await both(p, 'get', url);
    expect(missing.status).toBe(401);
    expect(missing.headers['www-authenticate']).toBe('Bearer realm="slides"');
    expect((await both(p, 'get', url, (t) => t.set('Authorization', 'Bearer nope'))).status).toBe(401);
    expect((await both(p, 'get', url, (t) => t.set('Authorization', `Bearer ${KEYS.revoked}`))).status).toBe(403);
    const routed = p.routed();
    expect(routed).toBe(3);
    const ok = await both(p, 'get', url, (t) => t.set('Authorization', `bearer ${KEYS.data}`));
    expect(ok.status).toBe(200);
    expect(ok.headers['cache-control']).toMatch(/^private, /);
    expect(ok.headers.vary).toBe('Origin');
    expect(ok.headers['access-control-allow-origin']).toBe('https://viewer.example');
    const cookie = await both(p, 'get', url, (t) => t.set('Cookie', `slides_key=${KEYS.data}`));
    expect(cookie.status).toBe(200);
    expect(p.routed()).toBe(routed);
  });

  it('answers 503 TIMEOUT through the one error writer when the render is late', async () => {
    const p = await pair({ requestTimeoutMs: 1 });
    const url = `${SLIDE}?x=0&y=0&width=2048&height=2048&level=0&format=png`;
    const r = await both(p, 'get', url);
    expect(r.status).toBe(503);
    expect(r.headers['retry-after']).toBe('5');
    expect(JSON.parse(r.body.toString()).code).toBe('TIMEOUT');
    expect(p.routed()).toBe(1); // the hot path took it, and handed the 503 over
  });
});
