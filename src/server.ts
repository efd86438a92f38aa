/**
 * Entry: loadConfig -> (demo data when no DATA_DIR) -> incremental ingest -> open the index ->
 * createApp -> listen. SIGTERM/SIGINT stop accepting, let requests in flight finish, then exit.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { createApp } from './app.js';
import { printReport, runDemo, runIngest } from './cli.js';
import { datasetDir, loadConfig } from './config.js';
import { createIndexHandle } from './db/handle.js';
import { MANIFEST_FILE } from './dataset/manifest.js';
import { createGeneration } from './generation.js';
import { imagingCapabilities } from './imaging/sharp.js';
import { createTileService } from './tiles/service.js';

/** How long a stop waits for requests in flight before it closes them. */
const DRAIN_MS = 10_000;

async function main(): Promise<void> {
  const config = loadConfig();
  const log = pino({ level: config.logLevel });
  const imaging = await imagingCapabilities();
  log.info({ imaging }, `libvips ${imaging.libvips}; OpenSlide ${imaging.openslide ? 'available' : 'not available'}; optional TIFF codecs: ${imaging.codecs.join(', ') || 'none'} (no JPEG 2000 / ZSTD slides in this build)`);
  if (config.dataDir === null && !existsSync(join(config.demoDir, MANIFEST_FILE))) {
    log.info({ demoDir: config.demoDir }, 'no DATA_DIR: generating the demo dataset');
    await runDemo(config);
  }
  if (config.ingestOnStart) printReport(await runIngest(config));
  const dataDir = datasetDir(config);
  const index = createIndexHandle(config.indexPath, (db) => createGeneration(db, dataDir, config.labelCacheBytes));
  const tiles = createTileService({ slideHandles: config.slideHandles, tileCacheBytes: config.tileCacheBytes, decodedCacheBytes: config.decodedTileCacheBytes });
  const app = createApp({ index, log, imaging, corsOrigin: config.corsOrigin, thumbnailMaxSize: config.thumbnailMaxSize, tiles, maxRegionPixels: config.maxRegionPixels, maxBodyBytes: config.maxBodyBytes });
  const server = app.listen(config.port, config.host, () => {
    const addr = server.address();
    const port = typeof addr === 'object' && addr ? addr.port : config.port;
    log.info({ port, dataDir }, `listening on http://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${port} (viewer at /, API docs at /docs)`);
  });
  server.keepAliveTimeout = 65_000;
  const stop = (signal: string) => {
    log.info({ signal }, 'stopping: draining requests in flight');
    server.close(() => {
      index.close();
      process.exit(0);
    });
    server.closeIdleConnections();
    setTimeout(() => {
      server.closeAllConnections();
      process.exit(0);
    }, DRAIN_MS).unref();
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

main().catch((e: unknown) => {
  process.stderr.write(`fatal: ${(e as Error).message}\n`);
  process.exit(1);
});
