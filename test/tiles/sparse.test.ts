/**
 * Sparse pyramids: a tile with offset and byte count 0 was never written. It must render as blank
 * glass, not fail the whole request (libvips would refuse the whole read).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest } from '../../src/indexer/ingest.js';
import { binary, serveIndex } from '../support/app-fixture.js';

let dir: string;
let app: Awaited<ReturnType<typeof serveIndex>>['app'];
const SPARSE_TILE = 5; // level 0 is 4 x 3 tiles of 512: tile 5 is column 1, row 1

/** Zeroes entry `k` of TileOffsets and TileByteCounts in the first directory of a classic little-endian TIFF. */
function makeSparse(file: string, k: number): void {
  const b = readFileSync(file);
  expect(b.toString('latin1', 0, 2)).toBe('II');
  const ifd = b.readUInt32LE(4);
  const n = b.readUInt16LE(ifd);
  for (let e = 0; e < n; e++) {
    const at = ifd + 2 + e * 12;
    const tag = b.readUInt16LE(at);
    if (tag !== 324 && tag !== 325) continue;
    const type = b.readUInt16LE(at + 2);
    const values = b.readUInt32LE(at + 8);
    if (type === 4) b.writeUInt32LE(0, values + 4 * k);
    else b.writeUInt16LE(0, values + 2 * k);
  }
  writeFileSync(file, b);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sparse-'));
  const data = join(dir, 'data');
  mkdirSync(join(data, 'slides'), { recursive: true });
  const file = join(data, 'slides', 'sparse_001.tif');
  await sharp({ create: { width: 2048, height: 1536, channels: 3, background: '#c87aa0' } })
    .tiff({ tile: true, tileWidth: 512, tileHeight: 512, pyramid: true, compression: 'jpeg', quality: 80 })
    .toFile(file);
  makeSparse(file, SPARSE_TILE);
  const report = await ingest({ dataDir: data, indexPath: join(dir, 'index.sqlite') });
  expect(report.problems).toEqual([]);
  ({ app } = await serveIndex(data, join(dir, 'index.sqlite')));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const pixels = async (url: string) => {
  const res = await request(app).get(url).buffer(true).parse(binary);
  expect(res.status).toBe(200);
  return sharp(res.body as Buffer)
    .raw()
    .toBuffer({ resolveWithObject: true });
};

describe('sparse TIFF tiles', () => {
  it('the missing tile is served as white glass; its neighbours keep their pixels', async () => {
    const dzi = (await request(app).get('/slides/sparse_001/image.dzi')).text;
    expect(dzi).toContain('TileSize="512"');
    const top = Math.ceil(Math.log2(2048)); // DeepZoom's full-resolution level of a 2048 px wide slide
    const missing = await pixels(`/slides/sparse_001/image_files/${top}/1_1.jpeg`);
    expect(missing.data.reduce((m, v) => Math.min(m, v), 255)).toBeGreaterThan(240);
    const present = await pixels(`/slides/sparse_001/image_files/${top}/0_1.jpeg`);
    expect(present.data[0]).toBeLessThan(230);
  });

  it('a region across the missing tile renders, white where it is missing', async () => {
    const img = await pixels('/slides/sparse_001/region?x=256&y=256&width=512&height=512&level=0&format=png');
    const at = (x: number, y: number) => img.data[(y * img.info.width + x) * img.info.channels]!;
    expect(at(10, 10)).toBeLessThan(230); // inside stored tile (0, 0)
    expect(at(400, 400)).toBeGreaterThan(240); // inside the never-written tile (1, 1)
  });
});
