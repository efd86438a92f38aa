/**
 * Runs one ingest (or demo generation + ingest) in its own process, so its time and peak RSS are
 * its own, and prints one `RESULT {json}` line.
 *   node --import tsx bench/ingest-job.ts ingest <dataDir> <indexPath>
 *   node --import tsx bench/ingest-job.ts demo <outDir> <indexPath>
 */
import { rmSync, statSync } from 'node:fs';
import { ingest, type IngestReport } from '../src/indexer/ingest.js';

export interface IngestJobResult {
  generateMs: number | null;
  slides: number | null;
  ingestMs: number;
  /** CPU time (user + system, all threads) of this process during the ingest. */
  ingestCpuMs: number;
  published: boolean;
  indexed: number;
  problems: Array<{ relPath: string; code: string; detail: string }>;
  indexBytes: number;
  peakRssBytes: number;
}

async function main(argv: string[]): Promise<void> {
  const [mode, dir, indexPath] = argv;
  if (!mode || !dir || !indexPath || (mode !== 'ingest' && mode !== 'demo'))
    throw new Error('usage: ingest|demo <dir> <indexPath>');
  let generateMs: number | null = null;
  let slides: number | null = null;
  if (mode === 'demo') {
    rmSync(dir, { recursive: true, force: true });
    const { generateDemo } = await import('../src/demo/generate.js');
    const t0 = performance.now();
    const r = await generateDemo({ outDir: dir, seed: 1 });
    generateMs = performance.now() - t0;
    slides = r.slides.length;
  }
  const cpu0 = process.cpuUsage();
  const report: IngestReport = await ingest({ dataDir: dir, indexPath });
  const cpu = process.cpuUsage(cpu0);
  const result: IngestJobResult = {
    generateMs,
    slides,
    ingestMs: report.ms,
    ingestCpuMs: (cpu.user + cpu.system) / 1000,
    published: report.published,
    indexed: report.indexed.length,
    problems: report.problems.map((p) => ({ relPath: p.relPath, code: p.code, detail: p.detail })),
    indexBytes: statSync(indexPath).size,
    // resourceUsage().maxRSS is in kilobytes.
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
  };
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
}

main(process.argv.slice(2)).catch((e: unknown) => {
  process.stderr.write(`ingest-job: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
