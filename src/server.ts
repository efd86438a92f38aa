/**
 * Entry: loadConfig -> createApp over the index handle -> listen -> (demo data when no DATA_DIR)
 * -> incremental ingest, both in a worker thread while the service already answers (/readyz and
 * data routes 503 until there is an index) -> the handle switches to the new index.
 * SIGTERM/SIGINT stop accepting, let requests in flight finish, then exit.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { createApp } from './app.js';
import { printReport, progress } from './cli.js';
import { datasetDir, loadConfig, type Config } from './config.js';
import { createIndexHandle, type IndexHandle } from './db/handle.js';
import { MANIFEST_FILE } from './dataset/manifest.js';
import { createGeneration } from './generation.js';
import { nativeJpegStatus } from './imaging/jpeg-native.js';
import { imagingCapabilities } from './imaging/sharp.js';
import { demoInWorker, ingestInWorker, type IngestJob } from './indexer/worker.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const log = pino({ level: config.logLevel });
  const imaging = await imagingCapabilities();
  log.info(
    { imaging },
    `libvips ${imaging.libvips}; OpenSlide ${imaging.openslide ? 'available' : 'not available'}; optional TIFF codecs: ${imaging.codecs.join(', ') || 'none'} (no JPEG 2000 / ZSTD slides in this build)`,
  );
  const native = nativeJpegStatus();
  if (!native.available)
    log.warn(
      { reason: native.reason },
      "native JPEG region decoder not available: libvips decodes whole tiles for regions (same pixels, slower: see the README's benchmarks)",
    );
  else
    log.info(
      `native JPEG region decoder: libjpeg-turbo ${native.libjpegTurbo}, ${config.nativeJpeg ? 'enabled' : 'disabled by NATIVE_JPEG'}`,
    );
  const dataDir = datasetDir(config);
  const index = createIndexHandle(config.indexPath, (db) => createGeneration(db, dataDir, config.labelCacheBytes));
  const lifecycle = { draining: false };
  const ingest = () => ingestInWorker(ingestJob(config));
  const app = createApp({ config, index, log, imaging, lifecycle, ingest });
  const server = app.listen(config.port, config.host, () => {
    const addr = server.address();
    const port = typeof addr === 'object' && addr ? addr.port : config.port;
    log.info(
      { port, dataDir },
      `listening on http://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${port} (viewer at /, API docs at /docs)`,
    );
  });
  server.keepAliveTimeout = 65_000;
  // Requests Node refuses before Express sees them (headers too large, malformed): a problem body too.
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return socket.destroy();
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
    const body = JSON.stringify({
      type: '/problems/bad-request',
      title: status === 431 ? 'Request Header Fields Too Large' : 'Bad Request',
      status,
      detail: 'the request could not be parsed',
      code: status === 431 ? 'HEADERS_TOO_LARGE' : 'MALFORMED_REQUEST',
    });
    socket.end(
      `HTTP/1.1 ${status} ${status === 431 ? 'Request Header Fields Too Large' : 'Bad Request'}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
  const stop = (signal: string) => {
    // Readiness turns false first and the listener stays open for a moment, so load balancers see
    // it and stop sending; then no new connections, requests in flight finish (batches included)
    // within DRAIN_MS, and the process exits.
    lifecycle.draining = true;
    log.info(
      { signal, readinessGraceMs: config.readinessGraceMs, drainMs: config.drainMs },
      'stopping: readiness off, draining requests in flight',
    );
    setTimeout(() => {
      server.close(() => {
        index.close();
        process.exit(0);
      });
      server.closeIdleConnections();
      setTimeout(() => {
        server.closeAllConnections();
        process.exit(0);
      }, config.drainMs).unref();
    }, config.readinessGraceMs).unref();
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  await prepareIndex(config, index);
}

/** Demo data (first start without DATA_DIR) and the start-up ingest, off the main thread. */
async function prepareIndex(config: Config, index: IndexHandle<unknown>): Promise<void> {
  if (config.dataDir === null && !existsSync(join(config.demoDir, MANIFEST_FILE))) {
    process.stderr.write(`no DATA_DIR: generating the demo dataset in ${config.demoDir}\n`);
    const bar = progress('demo', false);
    await demoInWorker({ outDir: config.demoDir, seed: config.demoSeed }, bar.update).finally(bar.stop);
  }
  if (config.ingestOnStart) {
    const bar = progress('ingest', false);
    printReport(await ingestInWorker(ingestJob(config), bar.update).finally(bar.stop));
  }
  // A foreign, corrupt or future index is refused here, with its reason, rather than served as 503s.
  const st = index.status();
  if (!st.ready) throw new Error(`the index at INDEX_PATH cannot be served: ${st.reason ?? 'unknown reason'}`);
}

main().catch((e: unknown) => {
  process.stderr.write(`fatal: ${(e as Error).message}\n`);
  process.exit(1);
});

/** What an ingest of the configured dataset needs, with the configured work limits. */
function ingestJob(config: Config): IngestJob {
  return {
    dataDir: datasetDir(config),
    indexPath: config.indexPath,
    maxSlidePixels: config.maxSlidePixels,
    maxRasterWork: config.maxRasterWork,
    remote: config.remote,
  };
}
