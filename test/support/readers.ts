/** Helpers shared by the annotation reader tests (ASAP XML, GeoJSON). */
import { expect } from 'vitest';
import { AppError } from '../../src/errors.js';
import type { LabelShape } from '../../src/labels/shapes.js';

/** Shapes with plain arrays, for exact table comparisons. */
export function plain(shapes: LabelShape[]): Array<{ name: string; value: number | null; rings: number[][] }> {
  return shapes.map((s) => ({ name: s.name, value: s.value, rings: s.rings.map((r) => Array.from(r)) }));
}

/** The AppError a reader throws for `run`; fails the test if it throws anything else or nothing. */
export function rejection(run: () => unknown): AppError {
  try {
    run();
  } catch (e) {
    expect(e).toBeInstanceOf(AppError);
    return e as AppError;
  }
  throw new Error('expected the reader to reject the input');
}
