/** Tissue detection maths on small synthetic images: exact tables. */
import { describe, expect, it } from 'vitest';
import {
  close,
  closeByPixels,
  detectTissue,
  dropSpecks,
  fillHoles,
  findRuns,
  hue,
  isInk,
  morph,
  otsuThreshold,
  runComponents,
  saturation,
  stainChannels,
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

/** Deterministic blobby 0/1 masks: random rectangles over sparse noise. */
const randomMask = (seed: number, w: number, h: number) => {
  let x = seed;
  const rand = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const m = new Uint8Array(w * h);
  for (let p = 0; p < m.length; p++) m[p] = rand() < 0.15 ? 1 : 0;
  for (let k = 0; k < 6; k++) {
    const [x0, y0] = [Math.floor(rand() * w), Math.floor(rand() * h)];
    const [x1, y1] = [Math.min(w, x0 + Math.floor(rand() * w)), Math.min(h, y0 + Math.floor(rand() * h))];
    const v = k % 3 === 2 ? 0 : 1;
    for (let j = y0; j < y1; j++) m.fill(v, j * w + x0, j * w + x1);
  }
  return m;
};
/** Components by breadth-first flood fill (4-connected): the plain definition. */
const floodComponents = (m: Uint8Array, w: number, h: number, value: number) => {
  const comp = new Int32Array(m.length).fill(-1);
  const sizes: number[] = [];
  const border: boolean[] = [];
  for (let p0 = 0; p0 < m.length; p0++) {
    if (m[p0] !== value || comp[p0]! >= 0) continue;
    const id = sizes.length;
    const queue = [p0];
    comp[p0] = id;
    let size = 0;
    let edge = false;
    while (queue.length) {
      const p = queue.pop()!;
      const [i, j] = [p % w, Math.floor(p / w)];
      size++;
      if (i === 0 || j === 0 || i === w - 1 || j === h - 1) edge = true;
      const next = [i > 0 ? p - 1 : -1, i < w - 1 ? p + 1 : -1, j > 0 ? p - w : -1, j < h - 1 ? p + w : -1];
      for (const q of next) {
        if (q >= 0 && m[q] === value && comp[q]! < 0) {
          comp[q] = id;
          queue.push(q);
        }
      }
    }
    sizes.push(size);
    border.push(edge);
  }
  return { comp, sizes, border };
};
describe('the fast passes agree with the per-pixel definitions', () => {
  it('stainChannels: saturation and ink of every RGB triple, and the histogram outside ink', () => {
    const img = new Uint8Array(65536 * 3);
    let mismatches = 0;
    for (let r = 0; r < 256; r++) {
      for (let k = 0; k < 65536; k++) {
        img[k * 3] = r;
        img[k * 3 + 1] = k >> 8;
        img[k * 3 + 2] = k & 255;
      }
      const c = stainChannels({ data: img, width: 256, height: 256, channels: 3 });
      const hist = new Float64Array(256);
      let inkPx = 0;
      for (let k = 0; k < 65536; k++) {
        const [g, b] = [k >> 8, k & 255];
        const ink = isInk(r, g, b);
        const s = saturation(r, g, b);
        if (ink) inkPx++;
        else hist[s]!++;
        if (c.ink[k] !== (ink ? 1 : 0) || c.sat[k] !== (ink ? 0 : s)) mismatches++;
      }
      expect(c.inkPx).toBe(inkPx);
      expect(Array.from(c.hist)).toEqual(Array.from(hist));
    }
    expect(mismatches).toBe(0);
  });

  const shapes: Array<[number, number]> = [
    [1, 1],
    [7, 5],
    [33, 17],
    [64, 48],
    [101, 3],
  ];

  it.each(shapes)('close (words) equals closeByPixels on a %i x %i mask, radius 1-3', (w, h) => {
    for (let seed = 1; seed <= 4; seed++) {
      const m = randomMask(seed * 7919 + w, w, h);
      for (const r of [1, 2, 3]) expect(close(m, w, h, r)).toEqual(closeByPixels(m, w, h, r));
    }
  });

  it.each(shapes)('fillHoles and dropSpecks on runs equal a flood fill on a %i x %i mask', (w, h) => {
    for (let seed = 1; seed <= 4; seed++) {
      const m = randomMask(seed * 104729 + h, w, h);
      const glass = floodComponents(m, w, h, 0);
      const holes = m.map((v, p) => (v === 0 && !glass.border[glass.comp[p]!] ? 1 : v));
      expect(fillHoles(m, w, h)).toEqual(holes);
      const tissue = floodComponents(m, w, h, 1);
      const specks = m.map((v, p) => (v === 1 && tissue.sizes[tissue.comp[p]!]! < 5 ? 0 : v));
      expect(dropSpecks(m, w, h, 5)).toEqual(specks);
    }
  });
});

describe('runs', () => {
  // Two components of 1: a U (its arms join through the bottom row) and the run at (5, 1).
  const m = grid(['#.#...', '#.#..#', '###...']);
  it("findRuns lists each row's stretches as [start, end)", () => {
    const r = findRuns(m, 6, 3, 1);
    expect(r.count).toBe(6);
    expect(Array.from(r.rowStart)).toEqual([0, 2, 5, 6]);
    expect(Array.from(r.start.subarray(0, r.count))).toEqual([0, 2, 0, 2, 5, 0]);
    expect(Array.from(r.end.subarray(0, r.count))).toEqual([1, 3, 1, 3, 6, 3]);
    const glass = findRuns(m, 6, 3, 0);
    expect(Array.from(glass.start.subarray(0, glass.count))).toEqual([1, 3, 1, 3, 3]);
    expect(Array.from(glass.end.subarray(0, glass.count))).toEqual([2, 6, 2, 5, 6]);
  });
  it('runComponents joins runs that share a column (not diagonals): root, size, border', () => {
    const c = runComponents(findRuns(m, 6, 3, 1), 6, 3);
    expect(Array.from(c.root)).toEqual([0, 0, 0, 0, 4, 0]);
    expect([c.size[0], c.size[4]]).toEqual([7, 1]);
    expect([c.border[0], c.border[4]]).toEqual([1, 1]);
    // A diagonal does not connect; a run inside the image does not touch the border.
    const d = runComponents(findRuns(grid(['.....', '.#...', '..#..', '.....']), 5, 4, 1), 5, 4);
    expect(Array.from(d.root)).toEqual([0, 1]);
    expect([d.size[0], d.size[1], d.border[0], d.border[1]]).toEqual([1, 1, 0, 0]);
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
