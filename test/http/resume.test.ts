/**
 * Resumable streams: a /batches stream killed at a random sample k and asked again with
 * `start: k` continues byte for byte; /samples' `start` is the same slice of descriptors; block
 * dealing of indices to shards (blockSize).
 */
import { request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shardIndices } from '../../src/patches/epoch.js';
import { binary, serveCore, type Served } from '../support/app-fixture.js';

let s: Served;
let server: Server;
let port: number;
beforeAll(async () => {
  s = await serveCore();
  server = s.app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  port = (server.address() as AddressInfo).port;
}, 120_000);
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  s.cleanup();
});

const body = {
  classes: ['metastasis', 'adipose'],
  minFraction: 0.3,
  size: 64,
  count: 40,
  seed: 21,
  epoch: 2,
  shard: 1,
  shards: 2,
};

const batch = async (b: object) => {
  const res = await request(s.app).post('/batches').send(b).buffer(true).parse(binary);
  expect(res.status).toBe(200);
  return res.body as Buffer;
};

/** Byte offset where the tar's `entries`-th member ends (members are a 512-byte header + padded data). */
function endOfEntries(tar: Buffer, entries: number): number {
  let at = 0;
  for (let n = 0; n < entries; n++) {
    if (at + 512 > tar.length) return -1;
    const size = parseInt(
      tar
        .subarray(at + 124, at + 136)
        .toString('ascii')
        .replace(/\0.*$/, '')
        .trim(),
      8,
    );
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return at <= tar.length ? at : -1;
}

/** POSTs /batches on a real socket and destroys the connection once `samples` whole samples (3 members each) arrived. */
function killedAfter(b: object, samples: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const req = httpRequest(
      { host: '127.0.0.1', port, method: 'POST', path: '/batches', headers: { 'content-type': 'application/json' } },
      (res) => {
        res.on('data', (c: Buffer) => {
          chunks.push(c);
          const got = Buffer.concat(chunks);
          const end = endOfEntries(got, samples * 3);
          if (end >= 0) {
            req.destroy();
            resolve(got.subarray(0, end));
          }
        });
        res.on('error', () => undefined);
        res.on('end', () => reject(new Error('the stream ended before the kill')));
      },
    );
    req.on('error', () => undefined);
    req.end(JSON.stringify(b));
  });
}

describe('start: resuming a stream', () => {
  it('a /batches stream killed at a random sample k, resumed with start k, is byte-identical to an uninterrupted one', async () => {
    const whole = await batch(body);
    const shardLength = shardIndices(body.count, body.shard, body.shards).length;
    const k = 1 + Math.floor(Math.random() * (shardLength - 1));
    const head = await killedAfter(body, k);
    const tail = await batch({ ...body, start: k });
    expect(Buffer.concat([head, tail]).equals(whole), `killed at k = ${k}`).toBe(true);
    // The service kept serving after the kill.
    expect((await request(s.app).get('/healthz')).status).toBe(200);
  }, 60_000);

  it('/samples with start k is the shard from position k on; start at the end is empty', async () => {
    const all = (await request(s.app).post('/samples').send(body)).body;
    const from7 = (
      await request(s.app)
        .post('/samples')
        .send({ ...body, start: 7 })
    ).body;
    expect(from7.start).toBe(7);
    expect(from7.items).toEqual(all.items.slice(7));
    const end = await request(s.app)
      .post('/samples')
      .send({ ...body, start: all.items.length });
    expect(end.status).toBe(200);
    expect(end.body.items).toEqual([]);
    const beyond = await request(s.app)
      .post('/samples')
      .send({ ...body, start: all.items.length + 1 });
    expect([beyond.status, beyond.body.code]).toEqual([422, 'START_BEYOND_SHARD']);
  });

  it('limit pages a shard in order: pages of /batches concatenate to the whole stream', async () => {
    const all = (await request(s.app).post('/samples').send(body)).body.items;
    const page = (
      await request(s.app)
        .post('/samples')
        .send({ ...body, start: 3, limit: 4 })
    ).body;
    expect([page.start, page.limit]).toEqual([3, 4]);
    expect(page.items).toEqual(all.slice(3, 7));
    const whole = await batch(body);
    const pages = [
      await batch({ ...body, limit: 8 }),
      await batch({ ...body, start: 8, limit: 8 }),
      await batch({ ...body, start: 16 }),
    ];
    // Each page is a complete tar: drop the two zero blocks that end all but the last.
    const joined = Buffer.concat([
      ...pages.slice(0, -1).map((p) => p.subarray(0, endOfEntries(p, 8 * 3))),
      pages.at(-1)!,
    ]);
    expect(joined.equals(whole)).toBe(true);
  });

  it('blockSize deals runs of consecutive indices to the shards', async () => {
    const res = await request(s.app)
      .post('/samples')
      .send({ ...body, shard: 1, shards: 3, blockSize: 4, count: 30 });
    expect(res.body.items.map((i: { index: number }) => i.index)).toEqual([4, 5, 6, 7, 16, 17, 18, 19, 28, 29]);
    // Patch i is the same whichever shard draws it.
    const whole = (
      await request(s.app)
        .post('/samples')
        .send({ ...body, shard: 0, shards: 1, count: 30 })
    ).body.items;
    expect(res.body.items).toEqual([4, 5, 6, 7, 16, 17, 18, 19, 28, 29].map((i) => whole[i]));
  });
});

describe('shardIndices with blocks', () => {
  it.each([
    [10, 0, 3, 1, [0, 3, 6, 9]],
    [10, 2, 3, 1, [2, 5, 8]],
    [10, 0, 2, 3, [0, 1, 2, 6, 7, 8]],
    [10, 1, 2, 3, [3, 4, 5, 9]],
    [7, 1, 2, 4, [4, 5, 6]],
    [7, 0, 1, 4, [0, 1, 2, 3, 4, 5, 6]],
    [5, 3, 4, 2, []],
  ])('count %i shard %i of %i, block %i', (count, shard, shards, block, want) => {
    expect(shardIndices(count, shard, shards, block)).toEqual(want);
  });

  it('the shards of any block size are disjoint and cover the epoch', () => {
    for (const [count, shards, block] of [
      [100, 7, 1],
      [100, 7, 5],
      [33, 4, 8],
      [3, 5, 2],
    ] as const) {
      const all = Array.from({ length: shards }, (_, s) => shardIndices(count, s, shards, block))
        .flat()
        .sort((a, b) => a - b);
      expect(all).toEqual(Array.from({ length: count }, (_, i) => i));
    }
  });
});
