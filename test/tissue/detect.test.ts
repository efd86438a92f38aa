/** Tissue detection maths on small synthetic images: exact tables. */
import { describe, expect, it } from 'vitest';
import {
  close,
  detectTissue,
  dropSpecks,
  fillHoles,
  hue,
  isInk,
  morph,
  otsuThreshold,
  saturation,
} from '../../src/tissue/detect.js';
import { kthSelected, selectWithTissue, selectedCount } from '../../src/tissue/selectors.js';

/** Parses rows of '#' (1) and '.' (0). */
const grid = (rows: string[]) => Uint8Array.from(rows.join('').split(''), (c) => (c === '#' ? 1 : 0));
const show = (m: Uint8Array, w: number) =>
  Array.from({ length: m.length / w }, (_, j) =>
    Array.from(m.subarray(j * w, (j + 1) * w), (v) => (v ? '#' : '.')).join(''),
  );

describe('colour channels', () => {
  it.each([
    [[255, 255, 255], 0, -1],
    [[248, 245, 247], 3, 320],
    [[255, 0, 0], 255, 0],
    [[0, 255, 0], 255, 120],
    [[0, 0, 255], 255, 240],
    [[238, 178, 208], 64, 330],
    [[0, 0, 0], 0, -1],
  ])('%j: saturation %i, hue %i', (rgb, s, h) => {
    const [r, g, b] = rgb as [number, number, number];
    expect(saturation(r, g, b)).toBe(s);
    expect(Math.round(hue(r, g, b))).toBe(h);
  });

  it.each([
    ['blue pen', [31, 74, 168], true],
    ['green pen', [40, 140, 60], true],
    ['black marker', [30, 30, 35], true],
    ['hematoxylin (purple-blue)', [90, 60, 150], false],
    ['eosin (pink)', [230, 150, 190], false],
    ['dark nucleus', [74, 16, 96], false],
    ['glass', [248, 245, 247], false],
  ])('%s is ink: %s', (_name, rgb, ink) => {
    const [r, g, b] = rgb as [number, number, number];
    expect(isInk(r, g, b)).toBe(ink);
  });
});

describe('otsuThreshold', () => {
  it('splits two clusters between them', () => {
    const hist = new Array(256).fill(0);
    hist[10] = 100;
    hist[60] = 50;
    const t = otsuThreshold(hist);
    expect(t).toBeGreaterThanOrEqual(10);
    expect(t).toBeLessThan(60);
  });
  it('is exact on a three-level table', () => {
    const hist = new Array(256).fill(0);
    hist[0] = 4;
    hist[1] = 4;
    hist[200] = 8;
    expect(otsuThreshold(hist)).toBe(1);
  });
});

describe('morphology', () => {
  const gap = grid(['......', '.##.#.', '.##.#.', '......']);
  it('a closing of radius 1 closes a one-pixel gap', () => {
    expect(show(close(gap, 6, 4, 1), 6)).toEqual(['......', '.####.', '.####.', '......']);
    // Tissue touching the border stays as it is.
    expect(show(close(grid(['##.', '##.']), 3, 2, 1), 3)).toEqual(['##.', '##.']);
  });
  it('dilation grows by the radius, erosion does not eat the image border', () => {
    expect(show(morph(grid(['.....', '..#..', '.....']), 5, 3, 1, true), 5)).toEqual(['.###.', '.###.', '.###.']);
    expect(show(morph(grid(['###', '###']), 3, 2, 1, false), 3)).toEqual(['###', '###']);
  });
  it('fillHoles fills enclosed glass only', () => {
    const m = grid(['#####.', '#..#..', '#####.', '......']);
    // The gap at (4, 1) opens onto glass that reaches the border: not a hole.
    expect(show(fillHoles(m, 6, 4), 6)).toEqual(['#####.', '####..', '#####.', '......']);
  });
  it('dropSpecks removes components under the minimum (4-connected)', () => {
    const m = grid(['##...#', '##....', '....#.', '...#..']);
    expect(show(dropSpecks(m, 6, 4, 2), 6)).toEqual(['##....', '##....', '......', '......']);
  });
});

describe('detectTissue', () => {
  /** 12 x 8 image: glass, a pink-purple block with a glass hole, a blue pen stroke, a speck. */
  const w = 12;
  const h = 8;
  const layout = [
    '............',
    '.PPPPPP.....',
    '.PP..PP..I..',
    '.PPPPPP..I..',
    '.PPPPPP..I..',
    '.........I.S',
    '............',
    '............',
  ];
  const colour: Record<string, number[]> = {
    '.': [248, 245, 247],
    P: [200, 120, 190],
    I: [31, 74, 168],
    S: [180, 90, 170],
  };
  const img = new Uint8Array(w * h * 3);
  layout
    .join('')
    .split('')
    .forEach((c, i) => img.set(colour[c]!, i * 3));

  it('finds the stained block, fills its hole, drops the speck, calls the pen out', () => {
    // At 32 um/px the closing radius rounds to 0 and the minimum object is 10 px.
    const r = detectTissue({ data: img, width: w, height: h, channels: 3 }, { umPerPixel: 32 });
    expect(show(r.mask, w)).toEqual([
      '............',
      '.######.....',
      '.######.....',
      '.######.....',
      '.######.....',
      '............',
      '............',
      '............',
    ]);
    expect(r.inkPx).toBe(4);
    expect(r.threshold).toBeGreaterThanOrEqual(15);
    expect(r.threshold).toBeLessThanOrEqual(40);
  });

  it('an image of glass alone has no tissue (the threshold floor)', () => {
    const glass = new Uint8Array(16 * 16 * 3);
    for (let i = 0; i < glass.length; i += 3) glass.set([248 - (i % 5), 245, 247 - (i % 3)], i);
    const r = detectTissue({ data: glass, width: 16, height: 16, channels: 3 }, { umPerPixel: 8 });
    expect(r.mask.every((v) => v === 0)).toBe(true);
  });
});

describe('tissue selectors', () => {
  const taxonomy = [
    { value: 0, name: 'unlabelled', category: null, color: '#000000' },
    { value: 1, name: 'metastasis', category: 'diagnostic', color: '#ff0000' },
  ];
  it('resolve next to classes, and report what is unknown', () => {
    expect(selectWithTissue(taxonomy, ['tissue', 'metastasis', 'Unlabelled-Tissue', 'nope'])).toEqual({
      values: [256, 1, 257],
      unknown: ['nope'],
    });
  });
  it('count and pick tissue raster pixels: tissue is 1 or 2, unlabelled-tissue 1', () => {
    const hist = new Array(256).fill(0);
    hist[0] = 5;
    hist[1] = 3;
    hist[2] = 4;
    expect([selectedCount(hist, 256), selectedCount(hist, 257), selectedCount(hist, 2)]).toEqual([7, 3, 4]);
    const px = Uint8Array.of(0, 2, 1, 0, 1, 2);
    expect([0, 1, 2, 3].map((k) => kthSelected(px, 256, k))).toEqual([1, 2, 4, 5]);
    expect([0, 1, 2].map((k) => kthSelected(px, 257, k))).toEqual([2, 4, -1]);
  });
});
