/**
 * Several scales around one centre (pure): the level-0 square of each scale of a multi-scale
 * sample, all centred on the centre of the first (the sampled) scale. No I/O.
 */

/** One scale as asked: `size` output pixels a side, at a slide level or at a target mpp (exactly one). */
export interface ScaleAsk {
  size: number;
  level: number | null;
  mpp: number | null;
}

/** A scale's square on level 0: integer top-left (a /region x, y) and side in level-0 pixels. */
export interface ScaleSquare {
  x: number;
  y: number;
  sizeL0: number;
}

/**
 * Side of a scale in level-0 pixels on a slide: size x the level's downsample, or size x mpp /
 * the slide's mpp (the same formulas as the single-scale sampler, so scale 0 matches it exactly).
 */
export function scaleSizeL0(ask: ScaleAsk, slideMpp: number | null, downsamples: readonly number[]): number {
  if (ask.level !== null) return ask.size * downsamples[ask.level]!;
  return (ask.size * ask.mpp!) / slideMpp!;
}

/**
 * Top-left of the square of side `sizeL0` centred on (cx, cy), rounded to whole level-0 pixels
 * (half up) because /region takes integer corners: its centre is then within half a level-0 pixel
 * (at most half an output pixel) of the point. Never moved to fit the slide: what lies off it is
 * padded, so every scale sees the same point in its middle.
 */
export function centredSquare(cx: number, cy: number, sizeL0: number): ScaleSquare {
  return { x: roundHalfUp(cx - sizeL0 / 2), y: roundHalfUp(cy - sizeL0 / 2), sizeL0 };
}

/** Every scale's square around the centre of the first one (which comes back as given). */
export function scaleSquares(first: ScaleSquare, sizesL0: readonly number[]): ScaleSquare[] {
  const cx = first.x + first.sizeL0 / 2;
  const cy = first.y + first.sizeL0 / 2;
  return sizesL0.map((s, k) => (k === 0 ? { ...first } : centredSquare(cx, cy, s)));
}

/** Half up, with a tie that floating point left a last bit below (cx - s / 2) still a tie. */
function roundHalfUp(v: number): number {
  return Math.floor(v + 0.5 + 1e-9);
}
