/**
 * POST /batches' body: the sampled patches as a WebDataset tar (tar-stream's pack), rendered in index
 * order. The pack's output is not piped: it is gathered until FLUSH_BYTES (a few samples) before one
 * socket write, where a pipe wrote a header, a body and a padding a member. The socket's
 * backpressure holds the rendering, and a client that goes away stops it at the next sample.
 */
import type { Response } from 'express';
import tar from 'tar-stream';
import { AppError } from '../../errors.js';
import type { Generation } from '../../generation.js';
import { createLabelScratch, type LabelScratch } from '../../masks/resample.js';
import type { RegionRenderer } from '../../slides/region.js';
import { encodeMaskRegion, imageRegion, maskRegion, type RegionFormat, type RegionRequest } from '../region.js';
import type { Descriptor } from '../sampler.js';
import type { SampleSpec } from '../spec.js';
import { scaleRegions } from '../scales/items.js';

/** A batch that has started streaming waits for a render slot instead of failing half-way. */
const BUSY_RETRY_MS = 25;
const BUSY_RETRIES = 400;
/** Batch images are training inputs: keep JPEG artefacts well below the scanner's own. */
const BATCH_QUALITY = 90;
/**
 * Samples are written once this many bytes are gathered (a 3-scale 256 px sample is ~100 KB): one
 * write a few samples instead of three a member; small enough that a sample reaches the client soon.
 */
const FLUSH_BYTES = 192 * 1024;
/** Members carry no time: the same request gives the same bytes. */
const EPOCH = new Date(0);
const EXT: Record<SampleSpec['format'], string> = { jpeg: 'jpg', png: 'png', webp: 'webp', raw: 'raw', npy: 'npy' };

/** How a sample's members are named and rendered: what stays the same for the whole batch. */
interface BatchContext {
  g: Generation;
  regions: RegionRenderer;
  spec: SampleSpec;
  /** Arrays come with arrays (no PNG to decode); encoded images with a PNG mask. */
  maskFormat: RegionFormat;
  scratch: LabelScratch;
  /** The descriptor JSON of a sample (the same as /samples gives). */
  describe(d: Descriptor): object;
}

export async function streamBatch(
  res: Response,
  g: Generation,
  regions: RegionRenderer,
  spec: SampleSpec,
  items: Descriptor[],
  describe: (d: Descriptor) => object,
): Promise<void> {
  let gone = false;
  res.on('close', () => (gone = !res.writableFinished));
  res.setHeader('Content-Type', 'application/x-tar');
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('X-Dataset-Version', g.datasetVersion);
  const maskFormat = spec.format === 'raw' || spec.format === 'npy' ? spec.format : 'png';
  const ctx: BatchContext = { g, regions, spec, maskFormat, scratch: createLabelScratch(), describe };
  const pack = tar.pack();
  pack.on('error', () => (gone = true)); // unhandled, a pack error would crash the process
  const gathered: Buffer[] = [];
  let bytes = 0;
  pack.on('data', (data: unknown) => {
    const chunk = data as Buffer; // the pack's output: headers, bodies and paddings
    gathered.push(chunk);
    bytes += chunk.length;
  });
  const entry = (m: TarMember) =>
    new Promise<void>((resolve, reject) =>
      pack.entry({ name: m.name, size: m.body.length, mtime: EPOCH }, m.body, (e) => (e ? reject(e) : resolve())),
    );
  const flush = async () => {
    if (gathered.length === 0 || gone) return;
    const chunk = gathered.length === 1 ? gathered[0]! : Buffer.concat(gathered, bytes);
    gathered.length = 0;
    bytes = 0;
    if (!res.write(chunk)) await drained(res);
  };
  for (const d of items) {
    if (gone) break;
    // The pack queues a sample's entries in order; each settles once its bytes are out.
    await Promise.all((await sampleMembers(ctx, d)).map(entry));
    if (bytes >= FLUSH_BYTES) await flush();
  }
  if (gone) {
    pack.destroy();
    return;
  }
  const ended = new Promise<void>((resolve) => pack.once('end', resolve));
  pack.finalize();
  await ended;
  res.end(Buffer.concat(gathered, bytes));
}

/** Resolves when the response can take more (or has closed); no listener is left behind. */
function drained(res: Response): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

interface TarMember {
  name: string;
  body: Buffer;
}

/**
 * One sample's members, in the order of the tar: with scales, an image and a mask per scale in the
 * order asked, each exactly its /region request; then the descriptor.
 */
async function sampleMembers(ctx: BatchContext, d: Descriptor): Promise<TarMember[]> {
  const { g, spec } = ctx;
  const s = g.slide(d.slideId);
  const key = String(d.index).padStart(6, '0');
  const members: TarMember[] = [];
  const image = async (region: RegionRequest) =>
    renderWhenFree(() => imageRegion(g, ctx.regions, s, region, spec.format, BATCH_QUALITY, Infinity));
  const mask = (region: RegionRequest) =>
    encodeMaskRegion(
      maskRegion(g, s, region, ctx.maskFormat === 'png' ? ctx.scratch : undefined),
      region,
      ctx.maskFormat,
    );
  if (spec.scales) {
    for (const [k, { region }] of scaleRegions(g, s, spec.scales, d).entries()) {
      members.push({ name: `${key}.img.${k}.${EXT[spec.format]}`, body: await image(region) });
      members.push({ name: `${key}.mask.${k}.${EXT[ctx.maskFormat]}`, body: mask(region) });
    }
  } else {
    const region: RegionRequest = {
      x: d.x,
      y: d.y,
      width: spec.size,
      height: spec.size,
      level: spec.level,
      mpp: spec.mpp,
    };
    members.push({ name: `${key}.${EXT[spec.format]}`, body: await image(region) });
    members.push({ name: `${key}.mask.${EXT[ctx.maskFormat]}`, body: mask(region) });
  }
  members.push({ name: `${key}.json`, body: Buffer.from(JSON.stringify(ctx.describe(d))) });
  return members;
}

/** Runs a render; while the service is BUSY, waits and tries again (bounded), for streams already under way. */
export async function renderWhenFree<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (!(e instanceof AppError) || e.code !== 'BUSY' || attempt >= BUSY_RETRIES) throw e;
      await new Promise((resolve) => setTimeout(resolve, BUSY_RETRY_MS));
    }
  }
}
