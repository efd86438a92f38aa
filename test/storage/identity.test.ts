/**
 * The service on object storage answers byte for byte what it answers on local files: the demo
 * dataset uploaded to a real S3 server (s3rver) and served by nginx, each ingested from there, and
 * tiles (stored and rendered), mask tiles, regions, thumbnails' presence and batches compared with
 * the same service on the local directory.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest } from '../../src/indexer/ingest.js';
import { binary, serveDemo, serveIndex, type Served } from '../support/app-fixture.js';
import {
  NGINX,
  S3_CREDENTIALS,
  remoteSettings,
  startNginx,
  startS3,
  uploadDir,
  type Nginx,
  type S3Server,
} from '../support/remote-stores.js';

const GETS = [
  '/slides/tumor_001/image_files/12/1_1.jpeg',
  '/slides/tumor_001/image_files/12/3_2.jpeg',
  '/slides/tumor_001/image_files/12/1_1.png?tileSize=254&overlap=1',
  '/slides/tumor_001/image_files/9/0_0.jpeg',
  '/slides/tumor_001/mask_files/12/1_1.png?style=raw',
  '/slides/tumor_001/mask_files/11/0_0.png?style=color&opacity=0.6',
  '/slides/tumor_001/region?x=600&y=500&width=256&height=256&level=0&format=png',
  '/slides/tumor_001/region?x=1000&y=700&width=700&height=300&level=0&format=jpeg',
  '/slides/tumor_001/region?x=600&y=500&width=256&height=256&level=0&layer=mask&format=png',
  '/slides/tumor_002/region?x=-100&y=-100&width=400&height=400&level=1&format=raw',
];
const BATCH = { classes: ['metastasis', 'adipose'], count: 6, size: 128, seed: 7, format: 'npy' };

async function answers(app: Served['app']): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const url of GETS) {
    const res = await request(app).get(url).buffer(true).parse(binary);
    expect(res.status, url).toBe(200);
    out.set(url, res.body as Buffer);
  }
  const batch = await request(app).post('/batches').send(BATCH).buffer(true).parse(binary);
  expect(batch.status).toBe(200);
  out.set('POST /batches', batch.body as Buffer);
  const samples = await request(app)
    .post('/samples')
    .send({ ...BATCH, count: 20 });
  expect(samples.status).toBe(200);
  out.set('POST /samples', Buffer.from(JSON.stringify(samples.body.items)));
  return out;
}

let local: Served;
let expected: Map<string, Buffer>;
let dir: string;

beforeAll(async () => {
  local = await serveDemo();
  expected = await answers(local.app);
  dir = mkdtempSync(join(tmpdir(), 'remote-identity-'));
}, 240_000);

afterAll(() => {
  local?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('on S3 (s3rver on 127.0.0.1)', () => {
  let s3: S3Server;
  beforeAll(async () => {
    s3 = await startS3();
    await uploadDir(s3, local.dataDir, 'camelyon/');
  }, 120_000);
  afterAll(async () => s3?.close());

  it('ingests the bucket and answers every request byte for byte as on the local files', async () => {
    const remote = remoteSettings({ endpoint: s3.endpoint, credentials: S3_CREDENTIALS });
    const dataDir = `s3://${s3.bucket}/camelyon`;
    const indexPath = join(dir, 's3', 'index.sqlite');
    const report = await ingest({ dataDir, indexPath, remote });
    expect(report.problems).toEqual(local.report.problems);
    expect(report.indexed.sort()).toEqual([...local.report.indexed].sort());
    const served = await serveIndex(dataDir, indexPath, { remote });
    const got = await answers(served.app);
    for (const [k, v] of expected) expect(got.get(k)?.equals(v), k).toBe(true);
    const thumb = await request(served.app).get('/slides/tumor_001/thumbnail.jpeg?maxSize=256');
    expect([thumb.status, thumb.headers['content-type']]).toEqual([200, 'image/jpeg']);
    // A second ingest finds every object unchanged (ETag, size, time) and rebuilds nothing.
    const again = await ingest({ dataDir, indexPath, remote });
    expect([again.published, again.indexed]).toEqual([false, []]);
  }, 240_000);
});

describe.skipIf(!existsSync(NGINX))('over plain HTTP with ranges (nginx on 127.0.0.1)', () => {
  let nginx: Nginx;
  beforeAll(async () => {
    nginx = await startNginx(local.dataDir);
  }, 30_000);
  afterAll(async () => nginx?.close());

  it('ingests through the JSON directory index and answers byte for byte as on the local files', async () => {
    const remote = remoteSettings();
    const indexPath = join(dir, 'http', 'index.sqlite');
    const report = await ingest({ dataDir: nginx.base, indexPath, remote });
    expect(report.problems).toEqual(local.report.problems);
    const served = await serveIndex(nginx.base, indexPath, { remote });
    const got = await answers(served.app);
    for (const [k, v] of expected) expect(got.get(k)?.equals(v), k).toBe(true);
  }, 240_000);
});
