/**
 * npm run export -- --request req.json --epochs 0-9 --out DIR [--shard-size 1000] [--url URL] [--api-key KEY]
 *
 * Writes each epoch of the request as WebDataset tar shards with a shards.json (src/export/run.ts).
 * With --url it reads from that running service; without, it starts the service in this process
 * on a loopback port, from the same settings as `npm start` (DATA_DIR, INDEX_PATH, ...; the index
 * must exist: `npm run ingest` first). Resumable: run it again and complete shards are skipped.
 */
import { SingleBar, Presets } from 'cli-progress';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { createApp } from '../src/app.js';
import { datasetDir, loadConfig } from '../src/config.js';
import { createIndexHandle } from '../src/db/handle.js';
import { ExportError, exportEpochs, totalSamples } from '../src/export/run.js';
import { parseEpochs } from '../src/export/plan.js';
import { createGeneration } from '../src/generation.js';
import { imagingCapabilities } from '../src/imaging/sharp.js';

const USAGE =
  'usage: npm run export -- --request req.json --epochs 0-9 --out DIR [--shard-size 1000] [--url URL] [--api-key KEY] [--quiet]';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      request: { type: 'string' },
      epochs: { type: 'string', default: '0' },
      out: { type: 'string' },
      'shard-size': { type: 'string', default: '1000' },
      url: { type: 'string' },
      'api-key': { type: 'string' },
      quiet: { type: 'boolean', default: false },
    },
  });
  const epochs = parseEpochs(values.epochs!);
  const shardSize = Number(values['shard-size']);
  if (!values.request || !values.out || !epochs || !Number.isInteger(shardSize) || shardSize < 1) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const request = JSON.parse(readFileSync(values.request, 'utf8')) as Record<string, unknown>;
  const service = values.url ? { url: values.url, close: async () => undefined } : await startInProcess();
  const total = totalSamples(request, epochs);
  const bar = values.quiet
    ? null
    : new SingleBar(
        {
          format: 'export [{bar}] {value}/{total} samples, {shard}',
          stream: process.stderr,
          noTTYOutput: true,
          notTTYSchedule: 5000,
        },
        Presets.shades_classic,
      );
  bar?.start(total, 0, { shard: '' });
  let done = 0;
  const t0 = performance.now();
  try {
    const index = await exportEpochs({
      baseUrl: service.url,
      request,
      epochs,
      outDir: values.out,
      shardSize,
      headers: values['api-key'] ? { authorization: `Bearer ${values['api-key']}` } : {},
      onShard: (e) =>
        bar?.update((done += e.samples), {
          shard: `epoch ${e.epoch} ${e.shard}${e.skipped ? ' (already there)' : ''}`,
        }),
    });
    bar?.stop();
    const s = (performance.now() - t0) / 1000;
    const shards = index.reduce((n, e) => n + e.shards.length, 0);
    process.stderr.write(
      `export: ${epochs.length} epoch(s), ${shards} shards, ${total} samples in ${s.toFixed(1)} s (${(total / s).toFixed(0)} samples/s) -> ${values.out}\n`,
    );
    return 0;
  } finally {
    bar?.stop();
    await service.close();
  }
}

/** The service itself on 127.0.0.1 (an ephemeral port), for an export without a running one. */
async function startInProcess(): Promise<{ url: string; close(): Promise<void> }> {
  const config = loadConfig();
  const index = createIndexHandle(config.indexPath, (db) =>
    createGeneration(db, datasetDir(config), config.labelCacheBytes),
  );
  const app = createApp({ config, index, log: pino({ level: 'warn' }), imaging: await imagingCapabilities() });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(e instanceof ExportError ? `export: ${e.message}\n` : `export: ${(e as Error).stack ?? e}\n`);
    process.exit(1);
  },
);
