/**
 * The `scales` field of a /samples or /batches body: checked (beyond the schema) into ScaleAsks,
 * and each scale's resolution checked against the slides. Problems name the field
 * (`body.scales[1].mpp`), as the schema's own messages do.
 */
import type { SlideRow } from '../../catalogue/repo.js';
import { AppError } from '../../errors.js';
import type { Generation } from '../../generation.js';
import { regionScale } from '../region.js';
import type { ScaleAsk } from './geometry.js';

/** The largest single-scale patch (size 2048, the schema's maximum): all scales together may not exceed it. */
export const MAX_SAMPLE_PIXELS = 2048 * 2048;
const SINGLE_SCALE_FIELDS = ['size', 'level', 'mpp'] as const;

/**
 * The scales of a body already checked against the schema (`raw`: the body as sent, before the
 * schema's defaults filled `size` in), or null when it has none.
 */
export function requestScales(
  raw: object,
  scales: ReadonlyArray<{ size: number; level?: number; mpp?: number }> | undefined,
): ScaleAsk[] | null {
  if (scales === undefined) return null;
  const mixed = SINGLE_SCALE_FIELDS.filter((k) => Object.prototype.hasOwnProperty.call(raw, k));
  if (mixed.length > 0)
    throw new AppError(
      400,
      'VALIDATION_FAILED',
      `body.scales and body.${mixed.join('/')} cannot be mixed: each scale has its own size and level or mpp`,
    );
  const asks = scales.map((s, i) => {
    if (s.level !== undefined && s.mpp !== undefined)
      throw new AppError(400, 'VALIDATION_FAILED', `body.scales[${i}]: give level or mpp, not both`);
    if (s.level === undefined && s.mpp === undefined)
      throw new AppError(400, 'VALIDATION_FAILED', `body.scales[${i}] needs level or mpp`);
    return { size: s.size, level: s.level ?? null, mpp: s.mpp ?? null };
  });
  const pixels = asks.reduce((a, s) => a + s.size * s.size, 0);
  if (pixels > MAX_SAMPLE_PIXELS)
    throw new AppError(
      413,
      'SAMPLE_TOO_LARGE',
      `body.scales: ${asks.map((s) => `${s.size}^2`).join(' + ')} = ${pixels} pixels a sample, more than ${MAX_SAMPLE_PIXELS} (one 2048 px patch): ask for smaller scales`,
    );
  return asks;
}

/**
 * Why a slide cannot serve scale k (its level, its mpp), or null. `sourcePixels` bounds what one
 * scale may read from a stored level, as for /region (its imageUrl must work): a scale far
 * coarser than the slide's coarsest level would read a large part of it.
 */
export function scaleProblem(
  g: Generation,
  s: SlideRow,
  ask: ScaleAsk,
  k: number,
  sourcePixels: number,
): AppError | null {
  const field = `body.scales[${k}].${ask.level !== null ? 'level' : 'mpp'}`;
  let scale;
  try {
    // A 1-pixel rectangle at the slide's origin: only the resolution is checked here.
    scale = regionScale(g, s, { x: 0, y: 0, width: 1, height: 1, level: ask.level, mpp: ask.mpp });
  } catch (e) {
    if (e instanceof AppError) return new AppError(e.status, e.code, `${field}: ${e.detail}`);
    throw e;
  }
  const side = Math.max(1, Math.round(ask.size * (scale.l0PerPixel / scale.downsample)));
  if (side * side > sourcePixels)
    return new AppError(
      413,
      'REGION_TOO_LARGE',
      `${field}: on slide "${s.id}" a ${ask.size} px patch reads ${side} x ${side} pixels of level ${scale.level}, more than ${sourcePixels}: ask for a finer mpp or a smaller size`,
    );
  return null;
}

/** The first problem of any scale on any of the slides (named slides must all serve every scale). */
export function checkScales(
  g: Generation,
  slides: readonly SlideRow[],
  asks: readonly ScaleAsk[],
  sourcePixels: number,
) {
  for (const s of slides) {
    for (let k = 0; k < asks.length; k++) {
      const why = scaleProblem(g, s, asks[k]!, k, sourcePixels);
      if (why) throw why;
    }
  }
}
