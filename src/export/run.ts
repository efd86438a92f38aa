/**
 * Writes epochs as WebDataset tar shards, each the very bytes POST /batches streams for it (the
 * exporter is a client of the service: one code path, so byte-identical by construction).
 *
 * Layout: OUT/epoch-NNNN/shard-NNNNNN.tar and OUT/epoch-NNNN/shards.json (shard names, sample
 * counts, bytes, SHA-256, the request, the dataset version). A shard is written to
 * `.name.partial` and renamed when complete, so a file under a shard's final name is always whole;
 * a re-run skips the shards already there (resumable), and refuses a directory made for another
 * request or another dataset version.
 */
import { createHash } from 'node:crypto';
import {
  createReadStream,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { epochDir, shardPlan, shardRequest, type ShardPlan } from './plan.js';

export interface ExportOptions {
  baseUrl: string;
  /** The /samples body (without epoch, shard, shards, start, limit). */
  request: Record<string, unknown>;
  epochs: number[];
  outDir: string;
  shardSize: number;
  headers?: Record<string, string>;
  /** Called after each shard, written or skipped. */
  onShard?: (e: { epoch: number; shard: string; samples: number; skipped: boolean }) => void;
}

export interface ShardEntry {
  name: string;
  samples: number;
  bytes: number;
  sha256: string;
}

export interface EpochIndex {
  epoch: number;
  datasetVersion: string;
  request: Record<string, unknown>;
  shardSize: number;
  shards: ShardEntry[];
}

export class ExportError extends Error {}

const RESERVED = ['epoch', 'shard', 'shards', 'start', 'limit', 'blockSize'];

export function totalSamples(request: Record<string, unknown>, epochs: number[]): number {
  return epochs.length * countOf(request);
}

export async function exportEpochs(o: ExportOptions): Promise<EpochIndex[]> {
  const bad = RESERVED.filter((k) => k in o.request);
  if (bad.length > 0)
    throw new ExportError(`the request must not set ${bad.join(', ')}: the export sets them per epoch and shard`);
  const out: EpochIndex[] = [];
  for (const epoch of o.epochs) out.push(await exportEpoch(o, epoch));
  return out;
}

async function exportEpoch(o: ExportOptions, epoch: number): Promise<EpochIndex> {
  const dir = join(o.outDir, epochDir(epoch));
  mkdirSync(dir, { recursive: true });
  const marker = join(dir, 'request.json');
  let version: string | null = null;
  if (existsSync(marker)) {
    const was = JSON.parse(readFileSync(marker, 'utf8')) as {
      request: unknown;
      shardSize: number;
      datasetVersion: string;
    };
    if (JSON.stringify(was.request) !== JSON.stringify(o.request) || was.shardSize !== o.shardSize) {
      throw new ExportError(`${dir} holds shards of another request or shard size: choose another --out`);
    }
    version = was.datasetVersion;
  }
  const shards: ShardEntry[] = [];
  for (const plan of shardPlan(countOf(o.request), o.shardSize)) {
    const path = join(dir, plan.name);
    if (existsSync(path) && version !== null) {
      shards.push({ name: plan.name, samples: plan.count, bytes: statSync(path).size, sha256: await sha256File(path) });
      o.onShard?.({ epoch, shard: plan.name, samples: plan.count, skipped: true });
      continue;
    }
    const written = await writeShard(o, epoch, plan, path, version);
    if (version === null) {
      version = written.datasetVersion;
      writeAtomically(
        marker,
        JSON.stringify({ request: o.request, shardSize: o.shardSize, datasetVersion: version }, null, 2),
      );
    }
    shards.push(written.entry);
    o.onShard?.({ epoch, shard: plan.name, samples: plan.count, skipped: false });
  }
  const index: EpochIndex = { epoch, datasetVersion: version!, request: o.request, shardSize: o.shardSize, shards };
  writeAtomically(join(dir, 'shards.json'), `${JSON.stringify(index, null, 2)}\n`);
  return index;
}

/** Streams one shard from /batches into `.name.partial`, hashing as it goes, then renames it. */
async function writeShard(
  o: ExportOptions,
  epoch: number,
  plan: ShardPlan,
  path: string,
  version: string | null,
): Promise<{ entry: ShardEntry; datasetVersion: string }> {
  const res = await fetch(new URL('/batches', o.baseUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...o.headers },
    body: JSON.stringify(shardRequest(o.request, epoch, plan)),
  });
  if (res.status !== 200 || !res.body)
    throw new ExportError(`POST /batches answered ${res.status}: ${(await res.text()).slice(0, 500)}`);
  const served = res.headers.get('x-dataset-version') ?? 'unknown';
  if (version !== null && served !== version) {
    await res.body.cancel();
    throw new ExportError(
      `the dataset version changed (${version} -> ${served}) since this epoch's first shards: export to another --out`,
    );
  }
  const partial = join(path, '..', `.${plan.name}.partial`);
  const hash = createHash('sha256');
  let bytes = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      bytes += chunk.length;
      cb(null, chunk);
    },
  });
  // The file is created before the stream starts: a stream that opened it lazily could create it
  // after a failed pipeline's clean-up, leaving a partial behind.
  const file = await open(partial, 'w');
  try {
    await pipeline(Readable.fromWeb(res.body as WebReadableStream<Uint8Array>), tap, file.createWriteStream());
  } catch (e) {
    await file.close().catch(() => {});
    rmSync(partial, { force: true });
    throw e;
  }
  renameSync(partial, path);
  return { entry: { name: plan.name, samples: plan.count, bytes, sha256: hash.digest('hex') }, datasetVersion: served };
}

function countOf(request: Record<string, unknown>): number {
  // The service's default count (SampleRequest.count) when the request leaves it out.
  return typeof request.count === 'number' ? request.count : 64;
}

function writeAtomically(path: string, text: string): void {
  writeFileSync(`${path}.partial`, text);
  renameSync(`${path}.partial`, path);
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
