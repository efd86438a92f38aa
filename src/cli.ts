/**
 * Command line: `demo` writes the generated dataset, `ingest` indexes a data directory.
 * Both read their settings from the environment through loadConfig (DATA_DIR, INDEX_PATH,
 * DEMO_DIR, DEMO_SEED) and show progress on a terminal, one line per step elsewhere.
 */
import { SingleBar, Presets } from 'cli-progress';
import { hashKey } from './auth/keys.js';
import { datasetDir, loadConfig, type Config } from './config.js';
import { AppError } from './errors.js';
import { ingest, type IngestReport } from './indexer/ingest.js';

export async function runIngest(config: Config, quiet = false): Promise<IngestReport> {
  const bar = progress('ingest', quiet);
  try {
    return await ingest({
      dataDir: datasetDir(config),
      indexPath: config.indexPath,
      maxSlidePixels: config.maxSlidePixels,
      maxRasterWork: config.maxRasterWork,
      remote: config.remote,
      onEvent: (e) => bar.update(e.phase === 'slide' ? `slide ${e.slideId ?? 'done'}` : e.phase, e.done, e.total),
    });
  } finally {
    bar.stop();
  }
}

export async function runDemo(config: Config, quiet = false): Promise<void> {
  const { generateDemo } = await import('./demo/generate.js');
  const bar = progress('demo', quiet);
  try {
    const r = await generateDemo({
      outDir: config.demoDir,
      seed: config.demoSeed,
      onProgress: (p) => bar.update(p.step, p.done, p.total),
    });
    if (!quiet)
      process.stderr.write(`demo: ${r.slides.length} slides in ${(r.ms / 1000).toFixed(1)} s -> ${r.outDir}\n`);
  } finally {
    bar.stop();
  }
}

export function printReport(r: IngestReport): void {
  const out = process.stderr;
  out.write(
    `ingest: ${r.published ? 'published' : 'up to date'} in ${(r.ms / 1000).toFixed(1)} s; dataset version ${r.datasetVersion}\n`,
  );
  out.write(
    `  indexed ${r.indexed.length}, unchanged ${r.unchanged.length}, removed ${r.removed.length}, problems ${r.problems.length}\n`,
  );
  for (const p of r.problems) out.write(`  ! ${p.relPath}: ${p.code}: ${p.detail}\n`);
}

interface Progress {
  update(step: string, done: number, total: number): void;
  stop(): void;
}

/** A bar on a terminal; elsewhere (CI, logs) one line per step change. */
export function progress(name: string, quiet: boolean): Progress {
  if (quiet) return { update: () => {}, stop: () => {} };
  if (!process.stderr.isTTY) {
    let last = '';
    return {
      update: (step, done, total) => {
        if (step !== last) process.stderr.write(`${name}: ${step} (${done}/${total})\n`);
        last = step;
      },
      stop: () => {},
    };
  }
  const bar = new SingleBar(
    { format: `${name} [{bar}] {value}/{total} {step}`, stream: process.stderr },
    Presets.shades_classic,
  );
  let started = false;
  return {
    update: (step, done, total) => {
      if (!started) bar.start(total, done, { step });
      started = true;
      bar.setTotal(total);
      bar.update(done, { step });
    },
    stop: () => started && bar.stop(),
  };
}

async function main(argv: string[]): Promise<number> {
  const config = loadConfig();
  const command = argv[0];
  if (command === 'ingest') {
    const report = await runIngest(config);
    printReport(report);
    return 0;
  }
  if (command === 'demo') {
    await runDemo(config);
    return 0;
  }
  if (command === 'hash-key' && argv[1]) {
    // The digest goes into API_KEYS / ADMIN_API_KEYS; the key itself is given to the client only.
    process.stdout.write(`${hashKey(argv[1])}\n`);
    return 0;
  }
  process.stderr.write(
    'usage: cli.js demo | ingest | hash-key <key>   (settings from DATA_DIR, INDEX_PATH, DEMO_DIR, DEMO_SEED)\n',
  );
  return 2;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(
        e instanceof AppError ? `error: ${e.code}: ${e.detail}\n` : `error: ${(e as Error).stack ?? e}\n`,
      );
      process.exit(1);
    },
  );
}
