/**
 * The training loop's side of the patch endpoints: validation messages that name the field,
 * classIndex in descriptors and batches, patches at the top and left edges, lossless batches.
 */
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveCore, type Served } from '../support/app-fixture.js';

let s: Served;
beforeAll(async () => {
  s = await serveCore();
});
afterAll(() => s.cleanup());

describe('validation messages', () => {
  it.each(['/samples', '/batches'])('%s names a misspelt field and the field it meant', async (path) => {
    const res = await request(s.app).post(path).send({ classes: ['adipose'], minfraction: 0.5 });
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/problem\+json/);
    expect(res.body.code).toBe('VALIDATION_FAILED');
    expect(res.body.detail).toBe('body.minfraction is not a field here (did you mean "minFraction"?)');
  });

  it('names the nested field and its bound', async () => {
    const res = await request(s.app).post('/samples').send({ classes: ['adipose'], region: { rect: { x: 0, y: 0, width: 0, height: 5 } } });
    expect(res.status).toBe(400);
    expect(res.body.detail).toBe('body.region.rect.width must be > 0');
  });
});
