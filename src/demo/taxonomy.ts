/** The default taxonomy the demo labels use, with lookups by name and value. */
import taxonomy from '../dataset/default-taxonomy.json' with { type: 'json' };

export interface TaxonomyEntry {
  value: number;
  name: string;
  category: string | null;
  color: string;
  description?: string;
}

export const demoTaxonomy: readonly TaxonomyEntry[] = taxonomy;

/** Taxonomy value of a class name; throws so a renamed class fails loudly, not silently. */
export function classValue(name: string): number {
  const entry = demoTaxonomy.find((t) => t.name === name);
  if (!entry) throw new Error(`class "${name}" is not in the default taxonomy`);
  return entry.value;
}

export function classEntry(value: number): TaxonomyEntry {
  const entry = demoTaxonomy.find((t) => t.value === value);
  if (!entry) throw new Error(`value ${value} is not in the default taxonomy`);
  return entry;
}

/** "#d62728" -> [214, 39, 40] */
export function hexToRgb(hex: string): [number, number, number] {
  const n = Number.parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

export const CLASS = {
  metastasis: classValue('metastasis'),
  parenchyma: classValue('lymph-node-parenchyma'),
  adipose: classValue('adipose'),
  connective: classValue('connective-tissue'),
  fold: classValue('fold'),
  ink: classValue('ink'),
  blur: classValue('blur'),
  bubbleDebris: classValue('bubble-debris'),
} as const;
