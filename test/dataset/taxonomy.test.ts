import { describe, expect, it } from 'vitest';
import { parseManifest } from '../../src/dataset/manifest.js';
import { categoriesOf, createClassResolver, parseHexColor, selectClasses } from '../../src/dataset/taxonomy.js';

const taxonomy = parseManifest({}).taxonomy;

describe('createClassResolver', () => {
  const resolve = createClassResolver(taxonomy, { _0: 'metastasis', _1: 'Metastasis', _2: null, Tumor: 'fold' });
  const table: Array<[string, number | null | undefined]> = [
    ['_0', 1],
    ['_1', 1],
    ['_2', null],
    ['Tumor', 5], // the class map wins over anything else
    ['tumor', 5], // case-insensitive
    ['  Adipose ', 3], // taxonomy names, trimmed, any case
    ['lymph-node-parenchyma', 2],
    ['Exclusion', undefined],
    ['', undefined],
  ];
  for (const [name, want] of table) it(`"${name}" -> ${want}`, () => expect(resolve(name)).toBe(want));
});

describe('parseHexColor', () => {
  it('reads #rrggbb in any case, with or without #', () => {
    expect(parseHexColor('#D62728')).toEqual([214, 39, 40]);
    expect(parseHexColor('00ff7f')).toEqual([0, 255, 127]);
    expect(() => parseHexColor('#fff')).toThrow(/not a #rrggbb/);
  });
});

describe('categoriesOf / selectClasses', () => {
  it('lists categories in first-seen order', () => {
    expect(categoriesOf(taxonomy)).toEqual(['diagnostic', 'background', 'artefact']);
  });

  it('selects by name, value and category, in order, without repeats; reports the unknown', () => {
    expect(selectClasses(taxonomy, ['ink', 3, 'artefact', 'Diagnostic', 'cancer', 99])).toEqual({
      values: [6, 3, 5, 7, 8, 1, 2],
      unknown: ['cancer', '99'],
    });
  });
});
