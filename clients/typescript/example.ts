/**
 * The typed client at work:
 *
 *   npx tsx clients/typescript/example.ts [baseUrl] [out.tar]
 *
 * lists the slides, samples 8 metastasis patches (POST /samples), then downloads the same
 * samples with their pixels and masks as a WebDataset tar (POST /batches) into out.tar
 * (default ./batch.tar) and counts its entries. SLIDES_API_KEY, when set, is sent as the key.
 */
import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import tar from 'tar-stream';
import { createSlidesClient, ok, type SampleRequest } from './client.js';

async function main(baseUrl: string, outPath: string): Promise<void> {
  const api = createSlidesClient(baseUrl, { apiKey: process.env.SLIDES_API_KEY });

  const slides = ok(await api.GET('/slides', { params: { query: { status: 'ok', limit: 100 } } }));
  console.log(`slides: ${slides.items.length} of ${slides.total}`);
  const idWidth = Math.max(0, ...slides.items.map((s) => s.id.length));
  for (const s of slides.items) {
    const classes = s.classes.map((c) => c.name).join(', ') || 'no labels';
    console.log(`  ${s.id.padEnd(idWidth)}  ${s.width} x ${s.height} px  ${classes}`);
  }

  const request: SampleRequest = { classes: ['metastasis'], minFraction: 0.5, size: 256, level: 0, count: 8, seed: 7 };
  const samples = ok(await api.POST('/samples', { body: request }));
  console.log(`samples: ${samples.items.length} metastasis patches (dataset version ${samples.datasetVersion})`);
  for (const p of samples.items) {
    console.log(
      `  #${p.index} ${p.slideId} x=${p.x} y=${p.y} ${p.width} px  ${p.class} ${(100 * (p.fractions[p.class] ?? 0)).toFixed(0)} %`,
    );
  }

  // The tar is streamed to the file as it arrives: a batch of thousands of patches never sits in memory.
  const batch = await api.POST('/batches', { body: request, parseAs: 'stream' });
  const body = ok(batch);
  if (body === null) throw new Error('POST /batches answered without a body');
  await pipeline(Readable.fromWeb(body as WebReadableStream<Uint8Array>), createWriteStream(outPath));

  const entries = await tarEntries(outPath);
  const samplesInTar = new Set(entries.map((name) => name.split('.')[0])).size;
  console.log(
    `batch: ${entries.length} tar entries for ${samplesInTar} samples -> ${outPath} (${(statSync(outPath).size / 1024).toFixed(0)} KiB)`,
  );
  console.log(`  e.g. ${entries.slice(0, 3).join(', ')}`);
}

/** Names of the files in a tar, in order. */
async function tarEntries(path: string): Promise<string[]> {
  const names: string[] = [];
  const extract = tar.extract();
  extract.on('entry', (header, stream, next) => {
    names.push(header.name);
    stream.on('end', next).resume();
  });
  await pipeline(createReadStream(path), extract);
  return names;
}

main(process.argv[2] ?? 'http://localhost:8080', resolve(process.argv[3] ?? 'batch.tar')).catch((e: unknown) => {
  const cause = (e as Error).cause;
  console.error(`example: ${(e as Error).message}${cause instanceof Error ? ` (${cause.message})` : ''}`);
  process.exit(1);
});
