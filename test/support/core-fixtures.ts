/**
 * Shared helpers of the index-core tests: where the real fixtures are, temp directories, a seeded
 * random generator, and Camelyon16-like slides written by real sharp.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import sharp from 'sharp';
import { AppError } from '../../src/errors.js';
import { mulberry32 } from '../../src/prng.js';

/** The read-only real files (see ../shared/fixtures/real/README.md). */
export const REAL_DIR = resolve(process.cwd(), '../shared/fixtures/real');

export const REAL_SLIDES = [
  'boxes.tiff',
  'CMU-1-Small-Region.svs',
  'small.svs',
  'tcga-cr-7395-01a-01-ts1.svs',
  'unopenable.tiff',
  'unreadable.svs',
  'yb10kx5k.zstd.tiff',
] as const;

export function realPath(name: string): string {
  return join(REAL_DIR, name);
}

/** A fresh directory under the OS temp dir; remove it with `removeTempDir`. */
export function makeTempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `core-${prefix}-`));
}

export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Copies a real fixture into `dest` (a file path), creating its directory. */
export function copyReal(name: string, dest: string): void {
  mkdirSync(dirname(dest), { recursive: true });
  copyFileSync(realPath(name), dest);
}

/** A seeded uniform [0, 1) generator (the project's mulberry32), so random tests replay exactly. */
export const seededRandom = mulberry32;

/** Integer in [lo, hi]. */
export function randomInt(rnd: () => number, lo: number, hi: number): number {
  return lo + Math.floor(rnd() * (hi - lo + 1));
}

/** Runs `fn` and returns the AppError it throws; fails when it throws anything else or nothing. */
export async function appErrorOf(fn: () => unknown): Promise<AppError> {
  try {
    await fn();
  } catch (e) {
    if (e instanceof AppError) return e;
    throw new Error(`expected an AppError, got ${(e as Error).name}: ${(e as Error).message}`, { cause: e });
  }
  throw new Error('expected an AppError, nothing was thrown');
}

export interface SlideSpec {
  width: number;
  height: number;
  /** Micrometres per level-0 pixel (Radboud 0.243, Utrecht 0.226). */
  mpp: number;
  seed: number;
}

/**
 * A Camelyon16-like slide: pinkish tissue blobs on white glass, written as ASAP writes its slides
 * (BigTIFF, 512 px JPEG tiles, pyramid of top-level IFDs, resolution in pixels per cm).
 */
export async function writeSlide(path: string, spec: SlideSpec): Promise<void> {
  mkdirSync(dirname(path), { recursive: true });
  const { width, height } = spec;
  const rnd = seededRandom(spec.seed);
  const px = Buffer.alloc(width * height * 3, 245);
  for (let b = 0; b < 4; b++) {
    const cx = rnd() * width;
    const cy = rnd() * height;
    const r = (0.1 + 0.15 * rnd()) * Math.min(width, height);
    const y0 = Math.max(0, Math.floor(cy - r));
    const y1 = Math.min(height, Math.ceil(cy + r));
    for (let y = y0; y < y1; y++) {
      const half = Math.sqrt(Math.max(0, r * r - (y - cy) ** 2));
      const x0 = Math.max(0, Math.floor(cx - half));
      const x1 = Math.min(width, Math.ceil(cx + half));
      for (let x = x0; x < x1; x++) {
        const o = (y * width + x) * 3;
        const t = ((x * 7 + y * 13) % 40) - 20;
        px[o] = 200 + (t >> 2);
        px[o + 1] = 110 + t;
        px[o + 2] = 170 - t;
      }
    }
  }
  // sharp's xres is in pixels per mm; with resolutionUnit 'cm' libvips stores pixels per cm.
  const perMm = 1000 / spec.mpp;
  await sharp(px, { raw: { width, height, channels: 3 } })
    .tiff({
      tile: true,
      tileWidth: 512,
      tileHeight: 512,
      pyramid: true,
      bigtiff: true,
      compression: 'jpeg',
      quality: 70,
      xres: perMm,
      yres: perMm,
      resolutionUnit: 'cm',
    })
    .toFile(path);
}
