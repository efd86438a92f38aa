/**
 * streamBatch over a real socket, with a counting stand-in for the pixel renderer (the masks are
 * the demo slide's real ones): a client that stops reading holds the rendering (backpressure), and
 * one that goes away stops it; a client that reads to the end gets every sample as a valid tar.
 */
import express from 'express';
import { request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { streamBatch } from '../../../src/patches/batch/stream.js';
import type { Descriptor } from '../../../src/patches/sampler.js';
import type { SampleSpec } from '../../../src/patches/spec.js';
import type { RegionRenderer } from '../../../src/slides/region.js';
import { untar } from '../../support/tar.js';
import { serveDemo, type Served } from '../../support/app-fixture.js';

const SAMPLES = 400;
/** A stand-in image: large enough that the socket's buffers fill long before the batch's end. */
const IMAGE = Buffer.alloc(40_000, 7);

let s: Served;
let server: Server;
let port: number;
let renders = 0;
const regions: RegionRenderer = {
  render: async () => {
    renders++;
    await new Promise((resolve) => setImmediate(resolve));
    return IMAGE;
  },
};

beforeAll(async () => {
  s = await serveDemo();
  const g = s.generation();
  // Only what streamBatch reads of a spec without scales.
  const spec = { format: 'jpeg', size: 64, level: 0, mpp: null, scales: null } as unknown as SampleSpec;
  const items: Descriptor[] = Array.from({ length: SAMPLES }, (_, i) => ({
    index: i,
    slideId: 'tumor_001',
    x: (i * 97) % 3000,
    y: (i * 53) % 1900,
    sizeL0: 64,
    classValue: 0,
    fractions: new Map(),
  }));
  const app = express();
  app.post('/batch', (_req, res, next) => {
    streamBatch(res, g, regions, spec, items, (d) => ({ index: d.index })).catch(next);
  });
  server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  port = (server.address() as AddressInfo).port;
}, 120_000);
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  s.cleanup();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Renders until the count has not moved for `quietMs` (the stream is held or stopped). */
async function settled(quietMs = 300): Promise<number> {
  for (let last = -1; ;) {
    await sleep(quietMs);
    if (renders === last) return renders;
    last = renders;
  }
}

describe('streamBatch over a socket', () => {
  it('holds the rendering while the client does not read, and sends every sample once it does', async () => {
    renders = 0;
    const chunks: Buffer[] = [];
    let ended!: () => void;
    const end = new Promise<void>((resolve) => (ended = resolve));
    const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/batch' }, (res) => {
      res.once('data', (c: Buffer) => {
        chunks.push(c);
        res.pause();
      });
      res.on('end', ended);
    });
    req.end();
    const held = await settled();
    expect(held).toBeGreaterThan(0);
    expect(held).toBeLessThan(SAMPLES);
    const res = (req as unknown as { res: NodeJS.ReadableStream }).res;
    res.on('data', (c: Buffer) => chunks.push(c));
    res.resume();
    await end;
    expect(renders).toBe(SAMPLES);
    const members = await untar(Buffer.concat(chunks));
    expect(members.size).toBe(3 * SAMPLES);
    expect(members.get('000399.jpg')!.equals(IMAGE)).toBe(true);
    expect(JSON.parse(members.get('000123.json')!.toString())).toEqual({ index: 123 });
    expect(members.get('000000.mask.png')!.subarray(1, 4).toString()).toBe('PNG');
  });

  it('stops rendering when the client goes away', async () => {
    renders = 0;
    await new Promise<void>((resolve) => {
      const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/batch' }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => undefined);
      req.end();
    });
    const stopped = await settled();
    expect(stopped).toBeLessThan(SAMPLES);
    await sleep(300);
    expect(renders).toBe(stopped);
  });
});
