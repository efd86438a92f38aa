/**
 * The built-in tissue selectors (pure). `tissue` and `unlabelled-tissue` stand wherever a class
 * may (classes, weights, exclusions, region.within): they are not taxonomy classes, so they get
 * values outside the 8-bit mask range that no taxonomy can use, and a taxonomy may not take their
 * names (the manifest check refuses it).
 */
import { selectClasses, type TaxonomyClass } from '../dataset/taxonomy.js';

/** Tissue raster values (src/tissue/build.ts): 0 is glass or ink. */
export const TISSUE_UNLABELLED = 1;
export const TISSUE_LABELLED = 2;

/** Detected tissue, labelled or not. */
export const TISSUE_VALUE = 256;
/** Detected tissue under no label. */
export const UNLABELLED_TISSUE_VALUE = 257;

export const TISSUE_SELECTORS: Readonly<Record<string, number>> = {
  tissue: TISSUE_VALUE,
  'unlabelled-tissue': UNLABELLED_TISSUE_VALUE,
};

export function isTissueValue(v: number): boolean {
  return v === TISSUE_VALUE || v === UNLABELLED_TISSUE_VALUE;
}

export function tissueSelectorName(v: number): string | null {
  return v === TISSUE_VALUE ? 'tissue' : v === UNLABELLED_TISSUE_VALUE ? 'unlabelled-tissue' : null;
}

/** selectClasses, with the built-in tissue selectors resolved first. */
export function selectWithTissue(
  taxonomy: readonly TaxonomyClass[],
  selectors: readonly (string | number)[],
): { values: number[]; unknown: string[] } {
  const values: number[] = [];
  const unknown: string[] = [];
  for (const sel of selectors) {
    const builtin = TISSUE_SELECTORS[String(sel).trim().toLowerCase()];
    const found = builtin !== undefined ? { values: [builtin], unknown: [] } : selectClasses(taxonomy, [sel]);
    for (const v of found.values) if (!values.includes(v)) values.push(v);
    unknown.push(...found.unknown);
  }
  return { values, unknown };
}

/** Whether a tissue raster value is selected by a (tissue or class) selector value. */
export function tissueMatches(pixel: number, selector: number): boolean {
  if (selector === UNLABELLED_TISSUE_VALUE) return pixel === TISSUE_UNLABELLED;
  return pixel === TISSUE_UNLABELLED || pixel === TISSUE_LABELLED;
}

/** Whether one raster pixel (tissue raster for tissue selectors, label raster for classes) is selected. */
export function selects(pixel: number, selector: number): boolean {
  return isTissueValue(selector) ? tissueMatches(pixel, selector) : pixel === selector;
}

/** Pixels a selector counts in a 256-entry histogram of the tissue raster (or of the label raster for classes). */
export function selectedCount(hist: ArrayLike<number>, selector: number): number {
  if (selector === UNLABELLED_TISSUE_VALUE) return hist[TISSUE_UNLABELLED]!;
  if (selector === TISSUE_VALUE) return hist[TISSUE_UNLABELLED]! + hist[TISSUE_LABELLED]!;
  return hist[selector]!;
}

/** Index of the k-th (0-based) pixel the selector matches, or -1 (kthOfValue for classes). */
export function kthSelected(values: Uint8Array, selector: number, k: number): number {
  let seen = 0;
  for (let i = 0; i < values.length; i++) {
    if (selects(values[i]!, selector)) {
      if (seen === k) return i;
      seen++;
    }
  }
  return -1;
}
