/**
 * Entry: loadConfig, then one of three roles. WORKERS=1: one process, as always: createApp over
 * the index handle -> listen -> (demo data when no DATA_DIR) -> incremental ingest, both in a
 * worker thread while the service already answers (/readyz and data routes 503 until there is an
 * index) -> the handle switches to the new index. WORKERS>1: this process becomes the primary
 * (src/cluster/primary.ts), which forks the workers, then runs the demo and the ingest once; each
 * worker serves as the single process does, and its handle switches to the new index the same way.
 * SIGTERM/SIGINT stop accepting, let requests in flight finish, then exit.
 */
import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { printReport, progress } from './cli.js';
import { startPrimary } from './cluster/primary.js';
import { workerEnv, workerSizing } from './cluster/sizing.js';
import type { WorkerSide } from './cluster/worker.js';
import { datasetDir, loadConfig, type Config } from './config.js';
import { createIndexHandle } from './db/handle.js';
import { openIndexReadOnly } from './db/open.js';
import { MANIFEST_FILE } from './dataset/manifest.js';
import { AppError } from './errors.js';
import { demoInWorker, ingestInWorker, type IngestJob } from './indexer/worker.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const log = pino({ level: config.logLevel });
  if (cluster.isWorker) {
    const { joinCluster } = await import('./cluster/worker.js');
    await serve(config, log, joinCluster(config));
    return;
  }
  if (config.workers > 1) return runPrimary(config, log);
  const ready = await serve(config, log, null);
  await prepareIndex(config, ready);
}

/** WORKERS > 1: fork, wait for a first worker to listen, then the demo and the start-up ingest, once. */
async function runPrimary(config: Config, log: Logger): Promise<void> {
  const sizing = workerSizing(availableParallelism(), config.workers);
  const primary = startPrimary({
    workers: config.workers,
    log,
    env: workerEnv(process.env, sizing),
    ingest: () => ingestInWorker(ingestJob(config)),
    // Each worker stops itself within the grace and the drain; this is the backstop for a stuck one.
    stopTimeoutMs: config.readinessGraceMs + config.drainMs + 5_000,
  });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping: draining every worker');
    void primary.stop().then((clean) => process.exit(clean ? 0 : 1));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  await primary.listening;
  await prepareIndex(config, () => indexReadable(config.indexPath));
}

/** Whether the published index can be served (the primary opens it only to check). */
function indexReadable(path: string): { ready: boolean; reason: string | null } {
  try {
    openIndexReadOnly(path).close();
    return { ready: true, reason: null };
  } catch (e) {
    return { ready: false, reason: e instanceof AppError ? e.detail : 'index unavailable' };
  }
}

/**
 * One serving process (the single one, or a worker): the app over the index handle, listening,
 * and the stop on SIGTERM. Returns the index's readiness check.
 */
async function serve(config: Config, log: Logger, worker: WorkerSide | null): Promise<() => IndexReady> {
  // Loaded here, not at the top: the primary never serves, and without express, sharp and the
  // render path it weighs ~45 MB less.
  const [{ createApp }, { createGeneration }, { nativeJpegStatus }, { imagingCapabilities }] = await Promise.all([
    import('./app.js'),
    import('./generation.js'),
    import('./imaging/jpeg-native.js'),
    import('./imaging/sharp.js'),
  ]);
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
  const labelCacheBytes = (worker?.config ?? config).labelCacheBytes;
  const index = createIndexHandle(config.indexPath, (db) => createGeneration(db, dataDir, labelCacheBytes));
  const lifecycle = { draining: false };
  const ingest = () => ingestInWorker(ingestJob(config));
  const base = { config, index, log, imaging, lifecycle };
  const app = worker
    ? createApp({ ...base, config: worker.config, ingestControl: worker.ingest, cluster: worker.cluster })
    : createApp({ ...base, ingest });
  worker?.serveMetrics(() => app.services.metrics.registry.getMetricsAsJSON());
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
    // A worker gets the primary's SIGTERM and maybe the terminal's SIGINT too: one stop.
    if (lifecycle.draining) return;
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
  // A worker keeps its handlers (a second signal must not kill it mid-drain); one process keeps
  // today's rule: a second Ctrl-C ends it at once.
  const on = worker ? process.on.bind(process) : process.once.bind(process);
  on('SIGTERM', () => stop('SIGTERM'));
  on('SIGINT', () => stop('SIGINT'));
  return () => index.status();
}

type IndexReady = { ready: boolean; reason: string | null };

/** Demo data (first start without DATA_DIR) and the start-up ingest, off the main thread. */
async function prepareIndex(config: Config, indexStatus: () => IndexReady): Promise<void> {
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
  const st = indexStatus();
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
