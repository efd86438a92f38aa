/**
 * The class list is data: these pure helpers look classes up by name, value or category and
 * build the resolvers the annotation readers use.
 */
import type { ClassResolver } from '../labels/shapes.js';

export interface TaxonomyClass {
  /** The pixel value in label rasters and raw mask tiles (0 = unlabelled). */
  value: number;
  name: string;
  /** e.g. diagnostic, background, artefact; null for the unlabelled value 0. */
  category: string | null;
  /** #rrggbb */
  color: string;
  description?: string;
}

/**
 * Resolver for names found in label files: an explicit `classMap` entry first (class name, or
 * null for a hole), then the taxonomy's own names, case-insensitively.
 */
export function createClassResolver(
  taxonomy: readonly TaxonomyClass[],
  classMap: Readonly<Record<string, string | null>> = {},
): ClassResolver {
  const byName = new Map(taxonomy.map((c) => [c.name.toLowerCase(), c.value]));
  const mapped = new Map(Object.entries(classMap).map(([k, v]) => [k.toLowerCase(), v]));
  return (name: string) => {
    const key = name.trim().toLowerCase();
    if (mapped.has(key)) {
      const target = mapped.get(key);
      return target === null || target === undefined ? null : byName.get(target.toLowerCase());
    }
    return byName.get(key);
  };
}

export function parseHexColor(hex: string): [number, number, number] {
  const m = /^#?([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex.trim());
  if (!m) throw new Error(`not a #rrggbb colour: ${hex}`);
  return [parseInt(m[1]!, 16), parseInt(m[2]!, 16), parseInt(m[3]!, 16)];
}

/** Categories in first-seen order (the unlabelled class has none). */
export function categoriesOf(taxonomy: readonly TaxonomyClass[]): string[] {
  return [...new Set(taxonomy.flatMap((c) => (c.category === null ? [] : [c.category])))];
}

/**
 * Class values selected by a list of class names, numeric values or category names, in the
 * order given; returns the selectors nothing matched, so callers can say which were unknown.
 */
export function selectClasses(
  taxonomy: readonly TaxonomyClass[],
  selectors: readonly (string | number)[],
): { values: number[]; unknown: string[] } {
  const values: number[] = [];
  const unknown: string[] = [];
  const add = (v: number) => {
    if (!values.includes(v)) values.push(v);
  };
  for (const sel of selectors) {
    const key = String(sel).trim().toLowerCase();
    const byValue = taxonomy.find((c) => String(c.value) === key);
    const byName = taxonomy.find((c) => c.name.toLowerCase() === key);
    const byCategory = taxonomy.filter((c) => c.category?.toLowerCase() === key);
    if (byName) add(byName.value);
    else if (byValue) add(byValue.value);
    else if (byCategory.length > 0) byCategory.forEach((c) => add(c.value));
    else unknown.push(String(sel));
  }
  return { values, unknown };
}
