/** classIndex: a class's model index is the position of the first request entry that selects it. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { TaxonomyClass } from '../../src/dataset/taxonomy.js';
import { classIndexOf } from '../../src/patches/spec.js';

const taxonomy = JSON.parse(
  readFileSync(new URL('../../src/dataset/default-taxonomy.json', import.meta.url), 'utf8'),
) as TaxonomyClass[];

describe('classIndexOf', () => {
  it.each([
    [['metastasis', 'adipose'], { 1: 0, 3: 1 }],
    [['adipose', 'metastasis'], { 3: 0, 1: 1 }], // the order asked, not the taxonomy's
    [[3, 'METASTASIS'], { 3: 0, 1: 1 }], // values and names in any case
    [['adipose', 'diagnostic'], { 3: 0, 1: 1, 2: 1 }], // a category's classes share its index
    [['diagnostic', 'metastasis', 'artefact'], { 1: 0, 2: 0, 5: 2, 6: 2, 7: 2, 8: 2 }], // first entry wins; index 1 selects nothing new
    [['unlabelled', 'adipose'], { 0: 0, 3: 1 }],
  ] as const)('%j -> %j', (selectors, expected) => {
    const got = classIndexOf(taxonomy, selectors as unknown as Array<string | number>);
    expect(Object.fromEntries([...got].map(([v, i]) => [String(v), i]))).toEqual(
      Object.fromEntries(Object.entries(expected)),
    );
  });
});
