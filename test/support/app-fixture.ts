/**
 * A served dataset for HTTP tests: the demo generator at a small scale, ingested into a temp
 * index, behind createApp (no port). Built once per test file.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type express from 'express';
import type request from 'superagent';
import { createApp } from '../../src/app.js';
import { createIndexHandle } from '../../src/db/handle.js';
import { createGeneration, type Generation } from '../../src/generation.js';
import { imagingCapabilities } from '../../src/imaging/sharp.js';
import { ingest, type IngestReport } from '../../src/indexer/ingest.js';
import type { TileService } from '../../src/tiles/service.js';
import { loadConfig, type Config } from '../../src/config.js';

export interface Served {
  app: express.Express;
  dir: string;
  dataDir: string;
  indexPath: string;
  report: IngestReport;
  tiles: TileService;
  generation(): Generation;
  cleanup(): void;
}

/** Demo data at this scale: tumor_001 about 3,700 x 2,000 px, a few seconds to make. */
export const TEST_SCALE = 0.1;

export async function serveDemo(opts: { scale?: number; seed?: number } = {}): Promise<Served> {
  const dir = mkdtempSync(join(tmpdir(), 'served-'));
  const dataDir = join(dir, 'data');
  const indexPath = join(dir, 'index', 'index.sqlite');
  const { generateDemo } = await import('../../src/demo/generate.js');
  await generateDemo({ outDir: dataDir, seed: opts.seed ?? 1, scale: opts.scale ?? TEST_SCALE });
  const report = await ingest({ dataDir, indexPath });
  return {
    ...(await serveIndex(dataDir, indexPath)),
    dir,
    dataDir,
    indexPath,
    report,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export async function serveIndex(dataDir: string, indexPath: string, overrides: Partial<Config> = {}) {
  const config = loadConfig(
    {},
    {
      dataDir,
      indexPath,
      slideHandles: 8,
      tileCacheBytes: 32 << 20,
      labelCacheBytes: 64 << 20,
      maxRegionPixels: 2048 * 2048,
      maxBodyBytes: 1 << 20,
      ...overrides,
    },
  );
  const index = createIndexHandle(indexPath, (db) => createGeneration(db, dataDir, config.labelCacheBytes));
  const app = createApp({
    config,
    index,
    log: pino({ level: 'silent' }),
    imaging: await imagingCapabilities(),
    ingest: () => ingest({ dataDir, indexPath }),
  });
  return { app, tiles: app.services.tiles, generation: () => index.current() };
}

/** The core test dataset (real fixture slides + small generated labelled slides), served. */
export async function serveCore(): Promise<Served> {
  const { buildDataset } = await import('./core-dataset.js');
  const dir = mkdtempSync(join(tmpdir(), 'served-core-'));
  const dataDir = join(dir, 'data');
  const indexPath = join(dir, 'index', 'index.sqlite');
  await buildDataset(dataDir);
  const report = await ingest({ dataDir, indexPath });
  return {
    ...(await serveIndex(dataDir, indexPath)),
    dir,
    dataDir,
    indexPath,
    report,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** supertest's parser for binary bodies (superagent hands it the raw response stream). */
export function binary(res: request.Response, cb: (err: Error | null, body: Buffer) => void): void {
  const stream = res as unknown as NodeJS.ReadableStream;
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  stream.on('end', () => cb(null, Buffer.concat(chunks)));
}
