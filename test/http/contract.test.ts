/**
 * The contract is one: every route the app answers is in openapi.yaml and every path there is
 * answered, and real responses validate against the schemas the spec gives them.
 */
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import request from 'supertest';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveCore, type Served } from '../support/app-fixture.js';

interface Layer {
  route?: { path: string; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
}

const spec = parseYaml(readFileSync('openapi.yaml', 'utf8')) as {
  paths: Record<string, Record<string, unknown>>;
  components: object;
};
/** Pages for people, not API: the viewer and the documentation. */
const NOT_API = [/^\/$/, /^\/view\//, /^\/docs/, /^\/viewer\//, /^\/openapi\.yaml$/, /^\/login$/];

let s: Served;
beforeAll(async () => {
  s = await serveCore();
});
afterAll(() => s.cleanup());

function routes(stack: Layer[]): string[] {
  return stack.flatMap((layer) => {
    if (layer.route)
      return Object.keys(layer.route.methods)
        .filter((m) => m !== '_all')
        .map((m) => `${m.toUpperCase()} ${layer.route!.path.replace(/:(\w+)/g, '{$1}')}`);
    return layer.handle?.stack ? routes(layer.handle.stack) : [];
  });
}

describe('openapi.yaml and the app', () => {
  it('describe the same endpoints', () => {
    const app = s.app as unknown as { router: { stack: Layer[] } };
    const served = routes(app.router.stack).filter((r) => !NOT_API.some((re) => re.test(r.split(' ')[1]!)));
    const documented = Object.entries(spec.paths).flatMap(([path, ops]) =>
      Object.keys(ops)
        .filter((k) => ['get', 'post', 'put', 'delete', 'patch'].includes(k))
        .map((m) => `${m.toUpperCase()} ${path}`),
    );
    expect([...new Set(served)].sort()).toEqual([...new Set(documented)].sort());
  });

  it('real responses validate against their schemas', async () => {
    const ajv = new Ajv({ strict: false, allErrors: true });
    ajv.addSchema({ $id: 'openapi', components: spec.components });
    const check = async (schema: string, res: request.Response) => {
      const validate = ajv.compile({ $ref: `openapi#/components/schemas/${schema}` });
      const ok = validate(res.body);
      expect(ok, `${schema}: ${JSON.stringify(validate.errors)}`).toBe(true);
    };
    await check('Health', await request(s.app).get('/healthz'));
    await check('SlideList', await request(s.app).get('/slides'));
    await check('Slide', await request(s.app).get('/slides/tumor_083'));
    await check('Slide', await request(s.app).get('/slides/yb10kx5k.zstd'));
    await check('ClassList', await request(s.app).get('/classes'));
    await check('Dataset', await request(s.app).get('/dataset'));
    await check(
      'SampleList',
      await request(s.app)
        .post('/samples')
        .send({ classes: ['adipose'], count: 3, size: 64 }),
    );
    await check('Problem', await request(s.app).get('/slides/nope'));
    await check('Problem', await request(s.app).post('/samples').send({ classes: 'x' }));
  });
});
